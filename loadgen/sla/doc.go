// Package sla parses latency service-level objectives such as "p99.9<5ms"
// or "get+set:p99<2ms" and judges a run's histograms against them.
//
// Failed operations (timeouts, connection and server errors) count as
// infinitely slow: a p99.9 objective is missed whenever more than 0.1% of the
// operations in its scope failed, whatever the successful ones measured. A
// tool that reported only successful latencies would let an overloaded store
// pass by timing out its slowest requests.
//
// The package is pure. It does not know which operations exist (the caller
// passes the valid names) or where histograms come from.
package sla
