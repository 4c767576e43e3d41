package engine

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/hlc"
)

// loadMeta establishes this incarnation's actor and restores flush_all.
//
// A node that did not shut down cleanly may have lost acknowledged buffered
// writes, and with them the highest dots it handed out; reusing its actor
// could give two different writes the same dot and silently drop one
// (Riak's "kv679"). So only a clean shutdown keeps the actor; anything else,
// including a lost data directory, starts a new one.
func (e *Engine) loadMeta() error {
	var buf [16]byte
	actor, hasActor, err := e.st.Get(metaActor, buf[:0])
	if err != nil {
		return err
	}
	clean, hasClean, err := e.st.Get(metaClean, nil)
	if err != nil {
		return err
	}
	switch {
	case hasActor && len(actor) == 8 && hasClean && len(clean) == 1 && clean[0] == 1:
		e.actor = dvv.Actor(binary.LittleEndian.Uint64(actor))
		e.stats.actorReused = true
	default:
		e.actor = newActor()
		if err := e.st.Set(metaActor, binary.LittleEndian.AppendUint64(nil, uint64(e.actor)), Sync); err != nil {
			return err
		}
	}
	// From here until Close the shutdown is unclean.
	if err := e.st.Delete(metaClean, Sync); err != nil {
		return err
	}
	f, found, err := e.st.Get(metaFlush, nil)
	if err != nil || !found {
		return err
	}
	return e.flush.decode(f)
}

func newActor() dvv.Actor {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("engine: no randomness for a node identity: %v", err))
		}
		if a := dvv.Actor(binary.LittleEndian.Uint64(b[:])); a != 0 {
			return a
		}
	}
}

// flushState remembers flush_all: every write with a timestamp at or before
// a flush point is invisible once that point's deadline has passed. A
// pending (delayed) flush does not undo one already applied.
type flushState struct {
	mu sync.RWMutex
	// applied: writes with timestamps ≤ applied are invisible.
	applied uint64
	// pending: from pendingAt (unix ms) on, writes ≤ pending are invisible.
	pending   uint64
	pendingAt int64
}

func (f *flushState) covers(ts uint64, now time.Time) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if ts <= f.applied {
		return true
	}
	return f.pendingAt != 0 && now.UnixMilli() >= f.pendingAt && ts <= f.pending
}

// set records a flush_all at now taking effect at deadline; issued is a
// timestamp greater than every one the node has handed out.
func (f *flushState) set(now, deadline time.Time, issued uint64) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pendingAt != 0 && now.UnixMilli() >= f.pendingAt {
		f.applied = max(f.applied, f.pending)
		f.pending, f.pendingAt = 0, 0
	}
	if !deadline.After(now) {
		f.applied = max(f.applied, hlc.Ceil(now), issued)
	} else {
		f.pending, f.pendingAt = hlc.Ceil(deadline), deadline.UnixMilli()
	}
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, f.applied)
	b = binary.LittleEndian.AppendUint64(b, f.pending)
	return binary.LittleEndian.AppendUint64(b, uint64(f.pendingAt))
}

func (f *flushState) decode(b []byte) error {
	if len(b) != 24 {
		return fmt.Errorf("engine: corrupt flush_all state (%d bytes)", len(b))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = binary.LittleEndian.Uint64(b)
	f.pending = binary.LittleEndian.Uint64(b[8:])
	f.pendingAt = int64(binary.LittleEndian.Uint64(b[16:]))
	return nil
}

// FlushAll implements KV. The flush point is stored durably; the reaper
// reclaims the flushed records in the background.
func (e *Engine) FlushAll(delay time.Duration) error {
	if e.closed.Load() {
		return ErrClosed
	}
	now := e.now()
	// An immediate flush covers every timestamp issued so far, including
	// ones the logical counter pushed past the current millisecond, and
	// later writes sort after it. (Writes before a delayed flush's
	// deadline are meant to be covered by it, so it moves no clock.)
	issued := e.clock.Now()
	b := e.flush.set(now, now.Add(delay), issued)
	if delay <= 0 {
		e.clock.Observe(max(hlc.Ceil(now), issued))
	}
	e.stats.flushes.Add(1)
	return e.st.Set(metaFlush, b, Sync)
}
