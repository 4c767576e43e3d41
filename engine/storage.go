package engine

import "github.com/dynamo-kv/dynamo/engine/kv"

// Storage is the ordered byte map the engine keeps records in: the
// buffered Pebble store in production, fault-injecting fakes in tests.
// Calls for one key that do not overlap in time take effect in call order.
type Storage interface {
	// Get appends key's value to dst; found is false when it is absent.
	Get(key, dst []byte) (val []byte, found bool, err error)
	// Set writes key and returns once the write is as durable as d says.
	Set(key, value []byte, d kv.Durability) error
	// Delete removes key, durable as d says.
	Delete(key []byte, d kv.Durability) error
	// Flush returns once everything written before the call is as
	// durable as a Sync write.
	Flush() error
	// Scan calls fn for each key in [lo, hi) in order until fn returns
	// false; the slices are valid only during the call.
	Scan(lo, hi []byte, fn func(key, value []byte) bool) error
	// Stats returns the store's own counters for `stats`.
	Stats() []kv.Stat
	// Close flushes and releases everything.
	Close() error
}
