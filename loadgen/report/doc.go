// Package report holds what a load run measured and renders it: per
// operation HdrHistograms (one set per worker, merged at the end), outcome
// and error counters, and the summary built from them, written as a text
// table, JSON, HdrHistogram percentile-distribution (.hgrm) files and an SVG
// picture of latency by percentile and throughput over time.
//
// It does no I/O of its own beyond the io.Writers it is handed and does not
// know how the numbers were produced; the loadgen package fills it.
package report
