// Package sim runs a whole cluster of real nodes (engine/node: the same
// engine, coordinator and membership code dynamod runs) in one process,
// under simulated time, on a simulated network (engine/simnet) and
// simulated disks (Pebble's crashable in-memory filesystem), and checks
// what the clients saw with engine/check.
//
// A seed decides everything the simulation chooses: the cluster's size,
// N, R and W, durability, the workload, and the fault schedule (crashes
// that lose what was not synced, clean restarts, pauses, partitions of
// every shape, one-way cuts, latency, datagram loss and duplication,
// clock skew). Run must be called inside a testing/synctest bubble, so
// that time advances only when every goroutine of the cluster waits;
// TestSimulation in this package does that, one bubble per seed.
//
// What is and is not deterministic is in docs/testing.md: the seed fixes
// the scenario and the schedule, not the interleaving of goroutines.
package sim
