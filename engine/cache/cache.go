// Package cache is a byte-bounded, sharded, in-memory cache of records by
// key with CLOCK (second-chance) eviction. The engine keeps recently used
// records here so that a read of a hot key is a hash lookup and a copy, not
// a walk of Pebble's memtable skiplists and block cache (Dynamo §6.1's
// object buffer, on the read side).
//
// Writers keep it exact: whoever changes the stored record calls Set or
// Delete after the store write. Readers that miss fill it with Fill, which
// refuses the value if any Set or Delete reached the key's shard since the
// reader took its Epoch before reading the store, so a slow reader can
// never put back a value a writer has replaced. The cache knows nothing of
// records or of the store.
package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const shardCount = 64

// entryOverhead approximates the bookkeeping bytes per entry (map slot,
// entry struct, string header) so the bound holds for small values too.
const entryOverhead = 64

// Cache maps keys to byte values. The zero value is not usable; call New.
type Cache struct {
	seed   maphash.Seed
	shards [shardCount]shard

	hits, misses, evictions atomic.Uint64
}

type entry struct {
	key string
	val []byte
	ref bool // referenced since the hand last passed
}

type shard struct {
	mu      sync.Mutex
	index   map[string]int32 // key -> slot in entries
	entries []entry
	free    []int32
	hand    int
	bytes   int64
	limit   int64
	epoch   uint64 // bumped by every Set and Delete
}

// New returns a cache holding at most about capacity bytes; capacity 0
// gives a cache that stores nothing.
func New(capacity int64) *Cache {
	c := &Cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].index = make(map[string]int32)
		c.shards[i].limit = capacity / shardCount
	}
	return c
}

func (c *Cache) shard(key []byte) *shard {
	return &c.shards[maphash.Bytes(c.seed, key)%shardCount]
}

// Get appends key's value to dst and reports whether it was cached.
func (c *Cache) Get(key, dst []byte) ([]byte, bool) {
	dst, ok := c.Lookup(key, dst)
	if !ok {
		c.misses.Add(1)
	}
	return dst, ok
}

// Lookup is Get for a caller that goes on to Get (or to the store through
// a reader that does) on a miss: it counts a hit, not a miss, so that one
// read that the cache could not answer counts one miss.
func (c *Cache) Lookup(key, dst []byte) ([]byte, bool) {
	s := c.shard(key)
	s.mu.Lock()
	i, ok := s.index[string(key)]
	if !ok {
		s.mu.Unlock()
		return dst, false
	}
	e := &s.entries[i]
	e.ref = true
	dst = append(dst, e.val...)
	s.mu.Unlock()
	c.hits.Add(1)
	return dst, true
}

// Contains reports whether key is cached, without touching its entry.
func (c *Cache) Contains(key []byte) bool {
	s := c.shard(key)
	s.mu.Lock()
	_, ok := s.index[string(key)]
	s.mu.Unlock()
	return ok
}

// Epoch returns a token for Fill; take it before reading the value from
// the store.
func (c *Cache) Epoch(key []byte) uint64 {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// Fill caches val for key, read from the store after Epoch returned epoch,
// unless a Set or Delete has reached the key's shard since.
func (c *Cache) Fill(key, val []byte, epoch uint64) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch {
		return
	}
	if n := s.put(key, val); n > 0 {
		c.evictions.Add(n)
	}
}

// Set stores a copy of val under key, evicting as needed. A value larger
// than a shard's share of the capacity is not cached (and any older value
// for the key is dropped).
func (c *Cache) Set(key, val []byte) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	if n := s.put(key, val); n > 0 {
		c.evictions.Add(n)
	}
}

// put stores val under key and returns how many entries it evicted.
func (s *shard) put(key, val []byte) (evicted uint64) {
	size := int64(len(key) + len(val) + entryOverhead)
	if size > s.limit {
		s.remove(key)
		return 0
	}
	if i, ok := s.index[string(key)]; ok {
		e := &s.entries[i]
		s.bytes += int64(len(val) - len(e.val))
		e.val = append(e.val[:0], val...)
		e.ref = true
	} else {
		s.bytes += size
		e := entry{key: string(key), val: append([]byte(nil), val...)}
		if n := len(s.free); n > 0 {
			i := s.free[n-1]
			s.free = s.free[:n-1]
			s.entries[i] = e
			s.index[e.key] = i
		} else {
			s.entries = append(s.entries, e)
			s.index[e.key] = int32(len(s.entries) - 1)
		}
	}
	for s.bytes > s.limit {
		if s.evictOne() {
			evicted++
		}
	}
	return evicted
}

// Delete drops key.
func (c *Cache) Delete(key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	s.epoch++
	s.remove(key)
	s.mu.Unlock()
}

func (s *shard) remove(key []byte) {
	i, ok := s.index[string(key)]
	if !ok {
		return
	}
	s.drop(i)
}

func (s *shard) drop(i int32) {
	e := &s.entries[i]
	s.bytes -= int64(len(e.key) + len(e.val) + entryOverhead)
	delete(s.index, e.key)
	*e = entry{}
	s.free = append(s.free, i)
}

// evictOne advances the clock hand until it removes an entry not referenced
// since its last pass; it reports false if it only cleared reference bits.
func (s *shard) evictOne() bool {
	for range 2 * len(s.entries) {
		if s.hand >= len(s.entries) {
			s.hand = 0
		}
		e := &s.entries[s.hand]
		i := int32(s.hand)
		s.hand++
		if e.key == "" {
			continue // a free slot
		}
		if e.ref {
			e.ref = false
			continue
		}
		s.drop(i)
		return true
	}
	return false
}

// Stats are the cache's counters.
type Stats struct {
	Bytes, Entries          int64
	Hits, Misses, Evictions uint64
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	st := Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Bytes += s.bytes
		st.Entries += int64(len(s.index))
		s.mu.Unlock()
	}
	return st
}
