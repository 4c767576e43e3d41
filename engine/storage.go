package engine

import (
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/store"
)

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

// laterStorage is a Storage that can leave the wait for a write's
// durability to the caller (the Pebble store does; test fakes need not).
// The engine buffers a write under the key's lock and waits after
// releasing it, so that one fsync (69 ms on a busy disk, seen in a
// bench-join run) holds up no other writer of the key's lock stripe or
// its partition's tree.
type laterStorage interface {
	SetLater(key, value []byte, d kv.Durability) (store.Pending, error)
	DeleteLater(key []byte, d kv.Durability) (store.Pending, error)
	FlushLater() (store.Pending, error)
}

// write stores (or with value nil and del, deletes) key durably as d
// asks: at once when s is nil or the storage cannot defer the wait,
// otherwise buffered now with the wait left in s for await.
func (e *Engine) write(s *scratch, key, value []byte, del bool, d kv.Durability) error {
	if s == nil || e.later == nil {
		if del {
			return e.st.Delete(key, d)
		}
		return e.st.Set(key, value, d)
	}
	var p store.Pending
	var err error
	if del {
		p, err = e.later.DeleteLater(key, d)
	} else {
		p, err = e.later.SetLater(key, value, d)
	}
	s.defer_(p)
	return err
}

// flushFor makes a merge that wrote nothing as durable as d asked: the
// sender may be about to drop its own copy (handoff, hint delivery)
// trusting this one, which may still be buffered here. A durable merge
// also makes durable everything this node acknowledged before it, which
// lets a sender make a whole batch durable with one (see the cluster's
// transferDurability). Like write, it leaves the wait in s when it can.
func (e *Engine) flushFor(s *scratch, d kv.Durability) error {
	if d != kv.WAL && d != kv.Sync {
		return nil
	}
	if s == nil || e.later == nil {
		return e.st.Flush()
	}
	p, err := e.later.FlushLater()
	s.defer_(p)
	return err
}

// defer_ keeps a write's durability to wait for in await.
func (s *scratch) defer_(p store.Pending) {
	if p != (store.Pending{}) {
		s.waits = append(s.waits, p)
	}
}

// await waits for the durability of every write deferred in s (the caller
// holds no lock by now) and returns the first error.
func (s *scratch) await() error {
	var first error
	for _, p := range s.waits {
		if err := p.Wait(); err != nil && first == nil {
			first = err
		}
	}
	s.dropWaits()
	return first
}

// dropWaits forgets the deferred waits without waiting: deferred where s
// goes back to its pool, so that a call a panic cut short (the peer
// handler recovers them) leaves the next user of s nothing to wait for.
func (s *scratch) dropWaits() {
	clear(s.waits)
	s.waits = s.waits[:0]
}
