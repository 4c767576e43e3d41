// Package dvv implements dotted version vectors: the causality metadata that
// lets concurrent writes to one key survive as siblings instead of one
// silently replacing the other.
//
// A key's state is a Clock (a version vector: per actor, the highest write
// counter this key has seen from it) plus a set of siblings, each tagged with
// the Dot (actor, counter) of the write that created it. A write carries the
// causal context its client read (a Clock); it supersedes exactly the
// siblings whose dots that context covers and gets a fresh dot from the
// coordinating actor. Two writes with the same context through the same node
// therefore get distinct dots and both survive, which a plain version vector
// per value cannot express (the "sibling explosion" of Riak before 2.0).
//
// The package is pure: no I/O, no clocks, no goroutines. It knows nothing of
// values; callers keep their payloads beside the dots and apply the keep
// masks returned here. Encoding of clocks (the opaque context clients carry)
// is here too, since it is part of the causality contract.
//
// Reference: Preguiça, Baquero, Almeida, Fonte, Gonçalves, "Dotted Version
// Vectors: Logical Clocks for Optimistic Replication" (2010), and Riak KV's
// use of them.
package dvv
