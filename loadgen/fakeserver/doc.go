// Package fakeserver is a small in-process memcached text-protocol server
// for testing and calibrating the load generator: get, set, delete, and the
// store's versioned getv/putv with a simplified causal context (the ids of
// the siblings read). It can stall every connection once for a set time, to
// show what open- and closed-loop measurement make of a stall, and it has a
// null mode that answers without storing, to measure the load generator's
// own ceiling.
//
// It is not a memcached implementation: no expiry, no eviction, no cas, no
// multi-key get, no binary protocol, and nothing it does is tuned.
package fakeserver
