// Package engine is one node's versioned key-value store: every key holds a
// set of concurrent versions (siblings) with dotted-version-vector
// causality, stored in an ordered byte store (an in-memory write buffer in
// front of Pebble, package engine/store).
//
// The engine owns what must be atomic on one node: per-key read-modify-write
// under a striped lock, conditional writes (memcached add/replace/cas),
// expiry and flush_all on read, the bound on siblings, tombstones and their
// reclamation, and the node's actor identity (a new one after any unclean
// shutdown, so a dot is never handed out twice). It knows nothing of the
// wire protocol or of other nodes.
//
// Data path: protocol executor → KV.Get/KV.Put → striped lock → Storage.
package engine
