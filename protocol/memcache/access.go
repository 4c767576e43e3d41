package memcache

import (
	"sync"
	"sync/atomic"
	"time"
)

// accessTable answers mg's h (fetched before?) and l (seconds since the
// last access), which memcached keeps in every item. The engine does not:
// they are per node, not replicated, and kept here, keyed by key and
// valid only while the key's CAS is the one recorded (a new write makes a
// new item, not fetched, accessed when written). Tracking starts with the
// first mg that asks for h or l, so that nodes whose clients never ask
// pay nothing on their reads; an item read before then reads as not
// fetched. Bounded like leaseTable: when full an arbitrary entry goes,
// which at worst reports one item as not fetched.
type accessTable struct {
	active atomic.Bool
	limit  int
	mu     struct {
		sync.Mutex
		m map[string]access
	}
}

type access struct {
	cas  uint64
	last int64 // unix seconds of the last fetch
}

func newAccessTable(limit int) *accessTable {
	t := &accessTable{limit: limit}
	t.mu.m = make(map[string]access)
	return t
}

// seen reports what is known of key at cas before this access: whether it
// was fetched, and when last (0: never fetched, so its write time
// counts). With update it records this access.
func (t *accessTable) seen(key []byte, cas uint64, now time.Time, update bool) (fetched bool, last int64) {
	t.active.Store(true)
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.mu.m[string(key)]
	if ok && a.cas == cas {
		fetched, last = true, a.last
	}
	if update {
		t.recordLocked(key, cas, now)
	}
	return fetched, last
}

// fetched records a read of key at cas, once tracking is on.
func (t *accessTable) fetched(key []byte, cas uint64, now time.Time) {
	if !t.active.Load() {
		return
	}
	t.mu.Lock()
	t.recordLocked(key, cas, now)
	t.mu.Unlock()
}

func (t *accessTable) recordLocked(key []byte, cas uint64, now time.Time) {
	if _, had := t.mu.m[string(key)]; !had && len(t.mu.m) >= t.limit {
		for k := range t.mu.m {
			delete(t.mu.m, k)
			break
		}
	}
	t.mu.m[string(key)] = access{cas: cas, last: now.Unix()}
}

func (t *accessTable) clear() {
	t.mu.Lock()
	clear(t.mu.m)
	t.mu.Unlock()
}
