// Package admit is the admission controller for a node's background work
// (Dynamo §6.5): hint delivery, ownership handoff, anti-entropy and
// reaping run only as fast as the foreground allows.
//
// Foreground requests record their latency in a Histogram. Every period
// the Controller reads the window's 99th percentile and moves each task's
// rate by the Law: additive increase while the window is under the target
// (or too quiet to say), multiplicative decrease when it is over. A task
// takes work from a token bucket filled at its rate and never slower than
// its floor, so background work yields under load and never starves.
//
// The law and the buckets are pure: time comes in as an argument, so the
// control loop is tested deterministically; the cluster drives Tick from
// a ticker.
package admit
