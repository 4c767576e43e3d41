package engine

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/hlc"
	"github.com/dynamo-kv/dynamo/engine/kv"
)

// loadMeta establishes this incarnation and restores flush_all.
//
// A node that did not shut down cleanly may have lost acknowledged buffered
// writes, and with them the highest dots it handed out; reusing its actors
// could give two different writes the same dot and silently drop one
// (Riak's "kv679"). So only a clean shutdown keeps the incarnation (and
// the epoch it had reached); anything else, including a lost data
// directory or one from before epochs, starts a new incarnation.
func (e *Engine) loadMeta() error {
	var buf [16]byte
	inc, hasInc, err := e.st.Get(metaActor, buf[:0])
	if err != nil {
		return err
	}
	clean, hasClean, err := e.st.Get(metaClean, nil)
	if err != nil {
		return err
	}
	epoch, hasEpoch, err := e.st.Get(metaEpoch, nil)
	if err != nil {
		return err
	}
	switch {
	case hasInc && len(inc) == 8 && hasClean && len(clean) == 1 && clean[0] == 1 && hasEpoch && len(epoch) == 8:
		e.actors.incarnation.Store(binary.LittleEndian.Uint64(inc))
		e.actors.epoch = binary.LittleEndian.Uint64(epoch)
		e.stats.actorReused = true
		sus, found, err := e.st.Get(metaSuspects, nil)
		if err != nil {
			return err
		}
		if found {
			if e.actors.suspect, err = decodeSuspects(sus); err != nil {
				return err
			}
		}
	default:
		if err := e.newIncarnation(); err != nil {
			return err
		}
	}
	// From here until Close the shutdown is unclean.
	if err := e.st.Delete(metaClean, kv.Sync); err != nil {
		return err
	}
	f, found, err := e.st.Get(metaFlush, nil)
	if err != nil || !found {
		return err
	}
	return e.flush.decode(f)
}

// Actors. A dot's actor is 64 bits: this node's incarnation (48 random
// bits, new after every unclean shutdown) and an epoch (16 bits). A write
// uses the actor of this incarnation already in the key's clock, if any:
// this node coordinated every write of that actor to the key and still
// holds them all, so its next counter is right. A key whose clock has
// none (a new key, or one this node forgot: reaped, handed off) gets the
// current epoch, and the current epoch moves on whenever this node
// forgets a record: so an epoch is never used for a key after the key was
// forgotten, and epochs are spent per forgetting, not per key. With one
// actor per node and per-key counters, a re-created key started again at
// 1, its new writes were taken for old ones by replicas that still held
// the old clock, and its new clock claimed old writes it had never seen.
//
// A forgotten key can come back, in one merge or several, with this
// incarnation's actor at an older counter (a fallback's late hint, a read
// repair): that record is not this node's whole history of the key, so
// its next write takes the current epoch too (suspect). A clean shutdown saves the
// suspects with the epoch (a restart that forgot them reused dots: the
// simulator's seed 566); an unclean one starts a new incarnation, which
// makes them moot. The set is bounded: rather than forget a suspect, a
// node that collects too many starts a new incarnation.
type actors struct {
	incarnation atomic.Uint64 // 48 bits, never 0
	mu          sync.Mutex
	epoch       uint64 // the last epoch handed out in this incarnation
	current     uint64 // the epoch new and forgotten keys get; 0: none yet
	forgot      bool   // a record was forgotten since current was handed out
	suspect     map[string]struct{}
	// sealed: Close has saved epoch and suspects; nothing may change them.
	sealed bool
}

const (
	epochBits = 16
	maxEpoch  = 1<<epochBits - 1
)

// maxSuspects bounds the suspect set (a variable for tests).
var maxSuspects = 1 << 14

// actorFor picks the actor of a write to key, whose clock is clock.
func (e *Engine) actorFor(key []byte, clock dvv.Clock) (dvv.Actor, error) {
	inc := e.actors.incarnation.Load()
	best := dvv.Actor(0)
	for _, en := range clock {
		if uint64(en.Actor)>>epochBits == inc && en.Actor > best {
			best = en.Actor
		}
	}
	a := &e.actors
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sealed {
		return 0, kv.ErrClosed
	}
	if _, sus := a.suspect[string(key)]; sus {
		delete(a.suspect, string(key))
		best = 0
	}
	if best != 0 {
		return best, nil
	}
	if a.current == 0 || a.forgot {
		if a.epoch >= maxEpoch {
			if err := e.newIncarnation(); err != nil {
				return 0, err
			}
		}
		a.epoch++
		a.current, a.forgot = a.epoch, false
		e.stats.epochs.Add(1)
	}
	return dvv.Actor(a.incarnation.Load()<<epochBits | a.current), nil
}

// forgot notes that this node let go of a record: the next key without
// an actor of its own gets a new epoch.
func (e *Engine) forgot() {
	e.actors.mu.Lock()
	e.actors.forgot = true
	e.actors.mu.Unlock()
}

// mergedOwnAhead notes a merge that brings this incarnation's own writes
// to key which the local copy (local: its clock, nil when absent) does
// not have. Every write of an actor of this incarnation is made here
// first, so a copy that has not forgotten the key has all of them: a
// merge ahead of it means the key was written here, forgotten, and is
// back in some older state, all at once or over several merges (the first
// of which may carry none of this node's writes: seed 547). Its next
// write takes the current epoch (suspect) rather than the next counter
// of an actor the other replicas may know further. It is called before
// the merge is written, which an error stops.
func (e *Engine) mergedOwnAhead(key []byte, local, incoming dvv.Clock) error {
	inc := e.actors.incarnation.Load()
	for _, en := range incoming {
		if uint64(en.Actor)>>epochBits != inc || en.Counter <= local.Get(en.Actor) {
			continue
		}
		a := &e.actors
		a.mu.Lock()
		defer a.mu.Unlock()
		switch {
		case a.sealed:
			return kv.ErrClosed
		case a.incarnation.Load() != inc:
			return nil // a new incarnation since: the actor is not ours any more
		case len(a.suspect) >= maxSuspects:
			// A new incarnation makes every suspect moot.
			return e.newIncarnation()
		}
		if a.suspect == nil {
			a.suspect = map[string]struct{}{}
		}
		a.suspect[string(key)] = struct{}{}
		return nil
	}
	return nil
}

// newIncarnation draws and stores a new incarnation, epochs from 0.
func (e *Engine) newIncarnation() error {
	var b [8]byte
	var inc uint64
	for inc == 0 || inc == e.actors.incarnation.Load() {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("engine: no randomness for a node identity: %v", err))
		}
		inc = binary.LittleEndian.Uint64(b[:]) >> epochBits
	}
	if err := e.st.Set(metaActor, binary.LittleEndian.AppendUint64(nil, inc), kv.Sync); err != nil {
		return err
	}
	e.actors.incarnation.Store(inc)
	e.actors.epoch, e.actors.current = 0, 0
	e.actors.suspect = nil
	e.stats.incarnations.Add(1)
	return nil
}

// saveActors seals the actors and stores the epoch reached and the
// suspects, for a clean restart to resume from.
func (e *Engine) saveActors() error {
	a := &e.actors
	a.mu.Lock()
	a.sealed = true
	epoch, sus := a.epoch, encodeSuspects(a.suspect)
	a.mu.Unlock()
	if err := e.st.Set(metaSuspects, sus, kv.Buffered); err != nil {
		return err
	}
	return e.st.Set(metaEpoch, binary.LittleEndian.AppendUint64(nil, epoch), kv.Sync)
}

// encodeSuspects lays out the keys as uvarint length and bytes each.
func encodeSuspects(m map[string]struct{}) []byte {
	var b []byte
	for k := range m {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

func decodeSuspects(b []byte) (map[string]struct{}, error) {
	m := map[string]struct{}{}
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, fmt.Errorf("engine: corrupt suspect keys (%d bytes left)", len(b))
		}
		m[string(b[w:w+int(n)])] = struct{}{}
		b = b[w+int(n):]
	}
	return m, nil
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
	b = binary.LittleEndian.AppendUint64(b, uint64(f.pendingAt))
	return append(b, flushFormat)
}

// flushFormat marks a flush state whose timestamps are microseconds; one
// without it (24 bytes) was written with milliseconds and is converted.
const flushFormat = 2

func (f *flushState) decode(b []byte) error {
	if len(b) != 24 && (len(b) != 25 || b[24] != flushFormat) {
		return fmt.Errorf("engine: corrupt flush_all state (%d bytes)", len(b))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = binary.LittleEndian.Uint64(b)
	f.pending = binary.LittleEndian.Uint64(b[8:])
	f.pendingAt = int64(binary.LittleEndian.Uint64(b[16:]))
	if len(b) == 24 {
		f.applied, f.pending = hlc.FromMillis16(f.applied), hlc.FromMillis16(f.pending)
	}
	return nil
}

// FlushAll implements KV. The flush point is stored durably; the reaper
// reclaims the flushed records in the background.
func (e *Engine) FlushAll(delay time.Duration) error {
	if e.closed.Load() {
		return kv.ErrClosed
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
	return e.st.Set(metaFlush, b, kv.Sync)
}
