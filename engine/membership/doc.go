// Package membership keeps a node's view of the cluster: which nodes are
// alive (hashicorp/memberlist gossip) and which ring every node routes by.
// The ring converges everywhere, and only explicit requests change it, as
// in Dynamo (SOSP 2007, §4.8) and Riak's claimant.
//
// # Joining and leaving
//
// A node asks to be in the ring by running: Start puts a "join" intent in
// its gossip metadata, and joins the seeds if it has any. It leaves the
// ring only through Leave, which changes the intent to "leave"; Rejoin
// changes it back. A node that left and restarts passes Config.Left and
// stays out until Rejoin. A node
// that fails stays in the ring and is merely not alive (View.Members):
// the coordinator's sloppy quorum and hinted handoff cover it, and it
// comes back under the same ID (the memberlist name) when it restarts.
//
// # Removing
//
// A node that will never return is taken out by Remove on any other node:
// the request rides in that node's metadata until the ring reflects it,
// and the claimant drops the member (if it is not alive) with
// ring.Remove, which retires the ID for good. Every node then forgets it
// and ignores what gossip says of it; Start fails with ErrRemoved for a
// node whose ID the ring it settles on removed.
//
// # The claimant
//
// One node at a time changes the ring: the claimant, the alive ring member
// with the smallest ID, which every node computes from its own view. The
// claimant adds alive nodes that want to join, removes nodes that asked to
// leave, and applies zone and weight changes, all in one ring.Update
// (version+1). Intents are state, not events: they stay in the metadata
// until the ring reflects them, so a change lost with a failed claimant is
// derived again by the next one. A claimant whose ring is behind a peer's
// waits until it has caught up, so it never builds on a stale ring.
// Metadata travels by gossip packets and, at worst, the next push/pull; a
// node whose wish the ring has not reflected for a Timing.Reconnect
// interval pushes its state to the claimant over a stream (push/pull), so
// a lost broadcast delays a join or leave by seconds, not a push/pull
// interval.
//
// # Convergence
//
// A new ring reaches every alive node three ways: the node that made or
// adopted it sends it at once (memberlist SendReliable); each node
// advertises its ring's version and fingerprint in its metadata, so a node
// that sees a better one asks for it; and memberlist's periodic push/pull
// carries the ring as anti-entropy. A node adopts a ring that beats its
// own: a higher version, or the same version and a smaller fingerprint.
// That order is total and the same everywhere, so rings made at once (two
// nodes that each thought they were claimant, two clusters started apart
// and then joined) converge on one, whose claimant then adds the nodes it
// lacks. Stale and duplicate rings are ignored.
//
// Rings of another partition count or replication factor are refused (a
// cluster's Q and N are fixed when it is created); a node starting with a
// saved ring that the seeds contradict fails with ErrRingConfig. A
// joining node without a saved ring takes the cluster's ring and ignores
// Config.Ring.
//
// # Node IDs
//
// IDs are unique and permanent. memberlist keeps the first of two live
// nodes with one name and drops the other silently; this package checks
// every join and fails it with ErrDuplicateID instead. A restarted node
// either reuses its gossip address or waits until its old instance has
// been declared dead (Timing.DeadNodeReclaim after that).
//
// # Using it
//
// The coordinator calls View on every request (an atomic load) and routes
// by View.Ring, skipping members that are not alive. Subscribe delivers
// each new view in order; persist View.Ring.Encode() there and pass it
// back as Config.SavedRing on restart, and plan handoff with
// ring.Diff between consecutive rings. To retire a node: Leave, hand off
// its data, Shutdown.
//
// # Not here
//
// The package moves no data and does not decide where keys live (package
// ring does); it does not detect failures faster than gossip (the
// coordinator's transport does); and it does not partition-tolerate ring
// changes: a partitioned minority whose smallest alive member becomes
// claimant may change its ring too, and the two rings converge by the
// order above when the partition heals (any joiner or leaver lost that
// way is re-derived from its still-standing intent).
package membership
