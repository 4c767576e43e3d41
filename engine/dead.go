package engine

import (
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/record"
)

// Dead records in a cluster. A record nobody can read (every version
// expired or flushed, or only tombstones older than TombstoneTTL) still
// carries the key's causal history, and a replica that forgets it while
// another still holds an older version lets that version come back
// through read repair, hints or anti-entropy. So with Options.Replicated
// the engine never reaps on its own: the cluster layer reaps a dead
// record only once every member holds the same one and no hint for it
// (Dead, ReapIf), and the fence below covers messages still in flight.

// Digest is the 64-bit hash of an encoded record by which replicas
// compare what they hold (read repair's digests, reaping).
func Digest(rec []byte) uint64 { return xxhash.Sum64(rec) }

// Dead reports whether an encoded record holds nothing readable and may
// be reaped once every replica agrees: the reaper's rule.
func (e *Engine) Dead(rec []byte) bool {
	var r record.Record
	return record.Decode(&r, rec) == nil && e.reapable(&r, e.now())
}

// ReapIf deletes key's record if it is still dead, still has the given
// digest and no hint names it, and fences the key against older copies
// arriving late. It reports whether it deleted.
func (e *Engine) ReapIf(key []byte, digest uint64) (bool, error) {
	now := e.now()
	return e.dropIf(key, EventReap, func(cur []byte, r *record.Record) bool {
		return Digest(cur) == digest && e.reapable(r, now)
	}, func(r *record.Record) {
		e.fence.add(key, r.Clock, digest, now)
		e.stats.reaped.Add(1)
	})
}

// fence remembers, for a while, the clock of each record reaped here, and
// refuses to take back versions that clock covers: a replica answered the
// reap check and then processed a message sent before it (a replication
// or hint delivery stuck in a paused process's socket buffer). Bounded in
// entries and in time; a fence lost to either bound or to a restart
// leaves only the (already unlikely) in-flight case open.
type fence struct {
	mu      sync.Mutex
	entries map[string]fenced
	order   []string // insertion order, for eviction
}

type fenced struct {
	clock  dvv.Clock
	digest uint64
	until  time.Time
}

const (
	fenceTTL     = time.Minute
	fenceEntries = 1 << 16
)

func (f *fence) add(key []byte, clock dvv.Clock, digest uint64, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entries == nil {
		f.entries = map[string]fenced{}
	}
	for len(f.order) > 0 && (len(f.entries) >= fenceEntries || now.After(f.entries[f.order[0]].until)) {
		delete(f.entries, f.order[0])
		f.order = f.order[1:]
	}
	k := string(key)
	if _, ok := f.entries[k]; !ok {
		f.order = append(f.order, k)
	}
	f.entries[k] = fenced{clock: append(dvv.Clock(nil), clock...), digest: digest, until: now.Add(fenceTTL)}
}

// strip removes from an incoming record (decoded in peer, encoded in rec)
// of a key reaped here moments ago the versions the reaped record's clock
// covers: old copies, whether or not the key has been written again since
// (a late copy of a deleted value merged beside a re-created one came back
// when the new one expired). The reaped record itself, which every
// replica had, dead, is let through. It reports whether it removed any.
func (f *fence) strip(key []byte, peer *record.Record, rec []byte, now time.Time) bool {
	f.mu.Lock()
	e, ok := f.entries[string(key)]
	f.mu.Unlock()
	if !ok || now.After(e.until) || Digest(rec) == e.digest {
		return false
	}
	kept := peer.Siblings[:0]
	for _, s := range peer.Siblings {
		if !e.clock.Covers(s.Dot) {
			kept = append(kept, s)
		}
	}
	stripped := len(kept) < len(peer.Siblings)
	peer.Siblings = kept
	return stripped
}
