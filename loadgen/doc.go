// Package loadgen drives memcached-protocol targets with a configurable
// workload and measures what they do: throughput, per-operation latency in
// HdrHistograms, failures by class and, for the store's versioned commands,
// how many siblings a shopping-cart read-modify-write sees.
//
// A run dials Config.Conns connections spread over the targets, optionally
// preloads the key space, runs a warm-up whose results are discarded, then
// measures for a duration or an operation count. Connections are grouped
// into Config.Workers workers that each own one set of histograms, merged
// at the end.
//
// Closed-loop connections on real sockets are driven, on Linux, by one
// epoll event loop per worker (package evloop), each on its own thread:
// a reply is parsed and the next request written by the thread that saw
// the socket become readable, as memcaslap's and memtier's libevent loops
// do. Other connections (injected transports, other platforms, IOGoroutines)
// get a goroutine each on Go's netpoller, and so does a loop's connection
// once it fails, to redial without stalling the loop. Open-loop connections
// always get two goroutines: a paced sender and a receiver.
//
// Closed loop (Rate 0) keeps Pipeline requests outstanding per connection
// and times each from the moment it was written. Open loop (Rate > 0) sends
// on a fixed per-connection schedule and times each request from its
// scheduled start, so a stall of the target shows up in the tail instead of
// silently pausing the load (coordinated omission). Lateness caused by the
// host's timer granularity is not charged to the target: a request is timed
// from the later of its scheduled start and the sender's last wake-up.
//
// Compare runs the same workload against several targets in alternation and
// reports medians over rounds. The package does not launch servers or
// clusters and does not interpret Profile cluster settings.
package loadgen
