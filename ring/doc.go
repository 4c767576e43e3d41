// Package ring places keys on nodes: consistent hashing over a fixed number
// of equal partitions, as in strategy 3 of the Dynamo paper (SOSP 2007,
// section 6.2). It is pure logic: no I/O, no clocks, no goroutines. The same
// inputs give the same ring, byte for byte, on every node.
//
// # Partitions
//
// The hash space of HashKey is cut into Q equal partitions, Q a power of
// two fixed when the cluster is created (Config.Partitions, default 1024).
// A key's partition is the top log2(Q) bits of its hash (Partition,
// KeyPartition). The engine stores keys under their hash, so a partition
// is one contiguous range of the store (PartitionRange: lo inclusive, hi
// exclusive, hi == 0 meaning the end of the space for the last partition).
//
// # Ownership
//
// Each partition has one owner. Members own partitions in proportion to
// their weight: every member holds the floor or the ceiling of its target
// Q·share, so it is within one partition of it. The target is weight/Σweight
// except where replica load could not follow it (see targetShares): a member
// is at most one of the N replicas of a partition, so its share is capped at
// 1/N; and preference lists spread zones first, so a zone's share is held
// between ⌊N/Z⌋/N and ⌈N/Z⌉/N. Stats.BestImbalance gives the best any
// placement can do for a membership.
//
// Owners are arranged so that every window of N consecutive partitions has
// distinct owners and balanced zones (Riak's target_n_val idea, extended to
// zones). Then a partition's N replicas are exactly the owners of it and its
// N-1 successors, and each member's replica load is N times its ownership:
// balancing one balances the other. Where a window cannot be made good (Q
// not divisible by the number of zones, a member too heavy) the preference
// list still holds N distinct members; only balance suffers, and Stats
// counts such windows.
//
// Pick Q for the largest cluster you expect. Ownership imbalance is about
// 1 + members/Q: 1000 members over Q=1024 own one or two partitions each
// (the busiest holds 1.95 times the mean, and a failed node's load lands on
// at most three others), over Q=4096 1.22, over Q=65536 1.007. Q ≥ 16 per
// member keeps it near 6% or better. Memory is small: 2 bytes per partition
// for owners plus 4·N bytes per partition of precomputed preference lists
// (0.8 MB at Q=65536, N=3).
//
// # Preference lists
//
// PreferenceList(p, n) gives the n members that hold partition p. It is the
// first n entries of one order of all members (ExtendedList), read from a
// clockwise walk from p: a member's level is how many of its zone come
// before it, and the order is by level, then by position in the walk. So
// the first min(n, zones) entries are in distinct zones, and zones are used
// round-robin after that. Every shorter list is a prefix of every longer
// one, so a sloppy quorum that finds a replica down takes the next entry:
// the fallback is distinct, zone-spread, and near on the ring. The first
// 2·Replicas entries of every partition are precomputed; asking for up to
// that many does not allocate. Longer lists walk the ring (O(Q)).
//
// # Changes
//
// A Ring is immutable. Join, Leave and Update (any mix of joins, leaves and
// changes of weight or zone) return a new ring with the next version,
// moving as little as they can: a newcomer takes its share from the
// members that must shrink, near evenly spaced spots around the ring; a
// leaver's partitions go to the members that must grow, matched so that
// windows stay good; only then are owners swapped to repair windows, least
// movement first. Equal-weight joins and leaves move the minimum (the
// newcomer's or the leaver's partitions) to within a few partitions; where a
// change shifts the balance between zones, or a cluster is as small as five
// nodes, the zone pattern must shift and more moves (cmd/ringsim prints
// both beside their ideal). Moved and Diff say which partitions changed
// replicas and which members gained or lost each one: the handoff plan.
//
// Version orders rings derived from one another, and Fingerprint identifies
// a ring's content. Two nodes deriving changes from the same ring at once
// would produce different rings with one version, so the cluster must let
// one node at a time (a claimant) make changes, as Riak does.
//
// # Encoding
//
// Encode writes a compact, versioned, checksummed binary form for gossip
// and storage; Decode reads it back and accepts only that canonical form,
// so Encode(Decode(b)) == b (see encode.go for the layout). Decode checks
// structure, not balance, so a ring placed by another release decodes.
//
// # Not here
//
// The package does not gossip rings or learn membership (engine/membership does),
// does not decide which node may change the ring, does not know which
// members are alive (the coordinator skips dead ones along the extended
// list), and moves no data (Diff only says what should move). Q cannot
// change after creation: there is no ring resizing.
//
// Placement uses floating point only to turn weights into shares, with
// ordered operations and fixed iteration counts; everything after that is
// integer arithmetic.
package ring
