// Package cluster makes a set of engines one Dynamo-style store: any node
// takes any request, each key lives on the N nodes of its preference list,
// and writes stay possible while any W nodes of the extended list answer.
//
// Node implements kv.KV, so the memcached front end serves a cluster
// exactly as it serves one engine. For a write, a node in the key's top N
// coordinates it (others forward it there): it applies the write to its
// own engine, which checks conditions and mints the write's dot, then
// sends the resulting record to the other replicas, which merge it, and
// answers after W acknowledgements. When a replica is down the record goes
// to the next healthy node of the extended list with a hint naming the
// intended owner (sloppy quorum, hinted handoff). A read asks N replicas,
// answers after R, merges their records by causality, and repairs stale
// replicas in the background (read repair).
//
// It routes by a Topology (ring, addresses, liveness) that gossip keeps
// current. It talks to peers through a small interface of typed calls
// (peers: fetch, digest, merge, put, tree, segment, flush_all, reapable,
// reap, and the peer's health), implemented by wirePeers over a Transport
// (*wire.Pool in production, with fault injection in tests). Every
// internode message is encoded and decoded by internal/msg, on the
// calling side (wirePeers) and the serving side (Handler) alike. It does
// not decide membership or move partitions after ring changes; see
// engine/membership.
//
// Classic conditional operations (cas, add, incr …) are checked against
// the coordinator's own replica under its key lock: atomic on that node,
// not linearizable across coordinators. docs/architecture.md says what a
// client can rely on.
package cluster
