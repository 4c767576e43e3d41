// Package fakekv is an in-memory kv.KV for tests of the protocol layer.
//
// It honours the documented engine semantics on one node: a causal context
// per read that names every version returned, siblings when a write's
// context does not cover the versions present, tombstones, the write
// conditions (absent, present, CAS), a CAS that is a digest of the context
// (deliberately not monotonic, so callers cannot depend on order), expiry
// on read, and flush_all with a delay. Faults (errors, delays, a hook that
// runs before each write) make executor tests deterministic.
//
// It does not persist, replicate, evict, reclaim tombstones, or bound its
// memory; it is not the engine and must not be used outside tests.
package fakekv
