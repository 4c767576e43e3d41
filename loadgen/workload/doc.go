// Package workload generates the operations a load run issues: which
// operation (the get/set/delete/cart mix), which key (uniform, zipfian or
// hot-spot over a fixed key space, optionally scrambled), how large a value,
// and the item lists a shopping-cart read-modify-write merges.
//
// It is pure: every generator draws from a *rand.Rand the caller owns (one per
// connection, seeded for reproducibility), nothing reads the clock, starts a
// goroutine or touches the network, and nothing allocates per draw. It
// deliberately knows nothing about the wire protocol or about timing; the
// loadgen package turns these draws into requests and paces them.
package workload
