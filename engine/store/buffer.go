package store

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"
)

// shardCount is a power of two so that a hash picks a shard with a mask.
const shardCount = 64

// entryOverhead approximates what an entry costs beyond its key and value
// (map slot, entry, allocation header), so that a flood of tiny writes does
// not look free to backpressure.
const entryOverhead = 64

// shrinkAfter is the entry count above which an emptied shard map is
// replaced, since Go maps never give back the memory of a burst.
const shrinkAfter = 4096

// entry is the latest buffered write of a key. value aliases an immutable
// allocation that the map key shares, so readers may use it without a lock.
type entry struct {
	value []byte
	seq   uint64 // per-shard; a changed seq means the key was overwritten
	del   bool   // a buffered tombstone
}

func entrySize(keyLen, valueLen int) int64 {
	return int64(keyLen + valueLen + entryOverhead)
}

// pending is an entry together with its key, as captured by the writer or
// collected by a scan.
type pending struct {
	key   string
	shard uint16
	entry
}

func (p *pending) keyBytes() []byte {
	return unsafe.Slice(unsafe.StringData(p.key), len(p.key))
}

type shard struct {
	mu   sync.Mutex
	m    map[string]entry
	n    atomic.Int32 // len(m), readable without the lock
	seq  uint64       // last sequence number handed out
	peak int          // largest len(m) since the map was last replaced
	_    [64]byte
}

// buffer is the sharded in-memory write buffer. It holds only entries the
// writer has not yet committed (or failed to commit).
type buffer struct {
	seed    maphash.Seed
	entries atomic.Int64
	stopErr atomic.Pointer[error]

	// upcoming is the round the writer has not started yet. A waiter
	// registers with it while holding its shard's lock; the writer swaps
	// in the next round before it captures any shard. So a waiter that
	// registers with round R finds its write captured in R (the capture
	// of its shard comes after the swap, hence after the waiter) or, if
	// it already sees R+1, in R or R+1, and R+1 commits after R.
	upcoming atomic.Pointer[round]

	shards [shardCount]shard
}

func (b *buffer) init(first *round) {
	b.seed = maphash.MakeSeed()
	b.upcoming.Store(first)
	for i := range b.shards {
		b.shards[i].m = make(map[string]entry)
	}
}

func (b *buffer) shardOf(key []byte) uint16 {
	return uint16(maphash.Bytes(b.seed, key) & (shardCount - 1))
}

// stopped returns why puts are refused, or nil while they are accepted.
func (b *buffer) stopped() error {
	if p := b.stopErr.Load(); p != nil {
		return *p
	}
	return nil
}

// stop makes every later put fail with err (the first reason wins). When it
// returns, each put that succeeded is in its shard, so the writer's next
// capture sees it.
func (b *buffer) stop(err error) {
	if !b.stopErr.CompareAndSwap(nil, &err) {
		return
	}
	for i := range b.shards {
		// An empty critical section is the point: puts check stopErr
		// under this lock, so any put holding it has finished.
		b.shards[i].mu.Lock()
		b.shards[i].mu.Unlock()
	}
}

// put buffers a write. A waiter of mode WAL or Sync is registered with the
// round that will capture the write, which put returns. replaced is the
// size of the entry this write overwrote, 0 if none.
func (b *buffer) put(key, value []byte, del bool, d Durability) (r *round, replaced int64, err error) {
	// One allocation holds key and value; the map key aliases it.
	kv := make([]byte, len(key)+len(value))
	copy(kv, key)
	copy(kv[len(key):], value)
	k := unsafe.String(unsafe.SliceData(kv), len(key))
	e := entry{value: kv[len(key):], del: del}

	sh := &b.shards[b.shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if err := b.stopped(); err != nil {
		return nil, 0, err
	}
	sh.seq++
	e.seq = sh.seq
	if old, ok := sh.m[k]; ok {
		replaced = entrySize(len(k), len(old.value))
	} else {
		b.entries.Add(1)
		sh.n.Add(1)
	}
	sh.m[k] = e
	sh.peak = max(sh.peak, len(sh.m))
	if d == WAL || d == Sync {
		r = b.upcoming.Load()
		r.register(d)
	}
	return r, replaced, nil
}

// get returns the buffered entry for key.
func (b *buffer) get(key []byte) (entry, bool) {
	sh := &b.shards[b.shardOf(key)]
	sh.mu.Lock()
	e, ok := sh.m[string(key)]
	sh.mu.Unlock()
	return e, ok
}

// capture appends every buffered entry to dst, grouped by shard. The
// caller has already swapped upcoming, so a write that a shard's emptiness
// check misses registered with the new round.
func (b *buffer) capture(dst []pending) []pending {
	for i := range b.shards {
		sh := &b.shards[i]
		if sh.n.Load() == 0 {
			continue
		}
		sh.mu.Lock()
		for k, e := range sh.m {
			dst = append(dst, pending{key: k, shard: uint16(i), entry: e})
		}
		sh.mu.Unlock()
	}
	return dst
}

// remove drops the captured entries that were not overwritten since the
// capture and returns the bytes they held. c must be grouped by shard, as
// capture returns it.
func (b *buffer) remove(c []pending) (freed int64) {
	for start := 0; start < len(c); {
		sh := &b.shards[c[start].shard]
		end := start
		sh.mu.Lock()
		for ; end < len(c) && c[end].shard == c[start].shard; end++ {
			p := &c[end]
			if cur, ok := sh.m[p.key]; ok && cur.seq == p.seq {
				delete(sh.m, p.key)
				b.entries.Add(-1)
				sh.n.Add(-1)
				freed += entrySize(len(p.key), len(p.value))
			}
		}
		if len(sh.m) == 0 && sh.peak > shrinkAfter {
			sh.m = make(map[string]entry)
			sh.peak = 0
		}
		sh.mu.Unlock()
		start = end
	}
	return freed
}

// collect appends the buffered entries with lo <= key < hi to dst, in no
// particular order. A nil bound is open.
func (b *buffer) collect(lo, hi []byte, dst []pending) []pending {
	for i := range b.shards {
		sh := &b.shards[i]
		if sh.n.Load() == 0 {
			continue
		}
		sh.mu.Lock()
		for k, e := range sh.m {
			p := pending{key: k, shard: uint16(i), entry: e}
			kb := p.keyBytes()
			if (lo == nil || bytes.Compare(kb, lo) >= 0) && (hi == nil || bytes.Compare(kb, hi) < 0) {
				dst = append(dst, p)
			}
		}
		sh.mu.Unlock()
	}
	return dst
}
