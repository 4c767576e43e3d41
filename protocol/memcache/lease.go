package memcache

import (
	"sync"
	"sync/atomic"
)

// leaseTable remembers the recache state memcached keeps in item flags:
// whether a win token (W) was handed out for an item (later readers see Z),
// and whether the item was invalidated by "md I" (readers see X). The engine
// stores neither, so the executor keeps them here, keyed by key and valid
// only while the key's CAS is the one recorded: any other write changes the
// CAS and so clears the state, as replacing a memcached item clears its
// flags. The table is bounded; when full an arbitrary entry is dropped,
// which at worst hands out one more win token. It is per process, not
// replicated: clients of different nodes do not share tokens.
type leaseTable struct {
	n     atomic.Int64 // entries, read without the lock on the hot path
	limit int

	mu struct {
		sync.Mutex
		m map[string]lease
	}
}

type lease struct {
	cas       uint64 // the CAS of the item this state belongs to
	prevCAS   uint64 // for stale items: the CAS before invalidation
	tokenSent bool
	stale     bool
}

func newLeaseTable(limit int) *leaseTable {
	t := &leaseTable{limit: limit}
	t.mu.m = make(map[string]lease)
	return t
}

// get returns the state of key at cas (zero if none).
func (t *leaseTable) get(key []byte, cas uint64) lease {
	if t.n.Load() == 0 {
		return lease{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.mu.m[string(key)]
	if !ok {
		return lease{}
	}
	if l.cas != cas {
		delete(t.mu.m, string(key))
		t.n.Add(-1)
		return lease{}
	}
	return l
}

// set records l for key; a zero-flag lease removes the entry.
func (t *leaseTable) set(key []byte, l lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, had := t.mu.m[string(key)]
	if !l.tokenSent && !l.stale {
		if had {
			delete(t.mu.m, string(key))
			t.n.Add(-1)
		}
		return
	}
	if !had && len(t.mu.m) >= t.limit {
		for k := range t.mu.m {
			delete(t.mu.m, k)
			t.n.Add(-1)
			break
		}
	}
	t.mu.m[string(key)] = l
	if !had {
		t.n.Add(1)
	}
}

// moved carries key's state from the CAS before a rewrite that kept the
// item (touch, TTL update) to the CAS after it.
func (t *leaseTable) moved(key []byte, from, to uint64) {
	if t.n.Load() == 0 {
		return
	}
	if l := t.get(key, from); l.tokenSent || l.stale {
		l.cas = to
		t.set(key, l)
	}
}

// clear forgets everything (flush_all).
func (t *leaseTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.mu.m)
	t.n.Store(0)
}
