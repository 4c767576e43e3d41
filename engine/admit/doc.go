// Package admit is the admission controller for a node's background work
// (Dynamo §6.5): hint delivery, ownership handoff, anti-entropy and
// reaping run only as fast as the foreground allows.
//
// Foreground requests record their latency in a Histogram. Every period
// the Controller reads the window's 99th percentile and moves each task's
// rate by the Law: additive increase while the window is under the target
// (or too quiet to say), multiplicative decrease when it is over. It also
// reads the process's queueing for a CPU (SchedLatencies, RunQueueWait)
// over each window, and decreases when that is over its target too: the
// signal of a node that serves no clients but shares the cores. A task
// takes work from a token bucket filled at its rate and never slower than
// its floor, so background work yields under load and never starves.
//
// The law and the buckets are pure: time comes in as an argument, so the
// control loop is tested deterministically; the cluster drives Tick from
// a ticker.
package admit
