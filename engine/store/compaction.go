package store

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// CompactionPacer slows compactions to what the node's foreground allows
// (Dynamo §6.5: background work yields). The store calls Pace from a
// running compaction each time it has written about another 128 keys, with
// the bytes written since the call before; Pace returns when the
// compaction may go on. It should not block for long at a time: the store
// checks between calls whether the LSM still has room to be paced.
type CompactionPacer interface {
	Pace(bytes int64)
}

// SetCompactionPacer makes p pace this store's compactions from now on
// (nil: none). A node sets it once its admission controller exists, after
// the store is open.
func (s *Store) SetCompactionPacer(p CompactionPacer) {
	if p == nil {
		s.sched.pacer.Store(nil)
		return
	}
	s.sched.pacer.Store(&p)
}

// compactionScheduler is Pebble's CompactionScheduler for this store: it
// runs as many compactions at once as Pebble asks for
// (GetAllowedWithoutPermission, within CompactionConcurrencyRange), as
// Pebble's own ConcurrencyLimitScheduler does, and gives each a grant
// handle that paces it by its written bytes through the pacer, unless the
// LSM is near a write stall: then every compaction runs at full speed, for
// a stall would stop foreground writes altogether.
type compactionScheduler struct {
	pacer atomic.Pointer[CompactionPacer]
	// pressed reports whether the LSM is close enough to a write stall
	// that compactions must not be slowed; set before Register.
	pressed func() bool

	db pebble.DBForCompaction // set by Register, before any other call

	mu       sync.Mutex
	running  int
	closed   bool
	granting bool
	granted  *sync.Cond // signalled when granting ends

	poke chan struct{} // capacity 1: grant now
	stop chan struct{}
	done chan struct{}
}

// grantEvery is how often the scheduler grants without being asked:
// Pebble does not tell it when a flush raises the concurrency it wants.
const grantEvery = 100 * time.Millisecond

func newCompactionScheduler(pressed func() bool) *compactionScheduler {
	s := &compactionScheduler{
		pressed: pressed,
		poke:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.granted = sync.NewCond(&s.mu)
	return s
}

func (s *compactionScheduler) Register(_ int, db pebble.DBForCompaction) {
	s.db = db
	go s.loop()
}

func (s *compactionScheduler) loop() {
	defer close(s.done)
	t := time.NewTicker(grantEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.poke:
		case <-s.stop:
			return
		}
		s.grant()
	}
}

// Unregister stops granting; Pebble calls it while closing, and no grant
// reaches the DB after it returns.
func (s *compactionScheduler) Unregister() {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	s.closed = true
	for s.granting {
		s.granted.Wait()
	}
	s.mu.Unlock()
}

// TrySchedule is Pebble asking to start a compaction now.
func (s *compactionScheduler) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.db.GetAllowedWithoutPermission() <= s.running {
		return false, nil
	}
	s.running++
	return true, &pacedCompaction{s: s}
}

func (s *compactionScheduler) UpdateGetAllowedWithoutPermission() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// grant starts waiting compactions while Pebble allows more than run. One
// grant runs at a time; the DB is called without s.mu held (the scheduler's
// lock orders after the DB's).
func (s *compactionScheduler) grant() {
	s.mu.Lock()
	for s.granting {
		s.granted.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return
	}
	free := s.db.GetAllowedWithoutPermission() - s.running
	if free <= 0 {
		s.mu.Unlock()
		return
	}
	s.granting = true
	s.mu.Unlock()
	for ; free > 0; free-- {
		if waiting, _ := s.db.GetWaitingCompaction(); !waiting {
			break
		}
		h := &pacedCompaction{s: s}
		s.mu.Lock()
		s.running++
		s.mu.Unlock()
		if !s.db.Schedule(h) {
			s.mu.Lock()
			s.running--
			s.mu.Unlock()
			break
		}
	}
	s.mu.Lock()
	s.granting = false
	s.granted.Broadcast()
	s.mu.Unlock()
}

// finished is a compaction's end: another may start.
func (s *compactionScheduler) finished() {
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
	s.UpdateGetAllowedWithoutPermission()
}

// pacedCompaction is one running compaction's grant.
type pacedCompaction struct {
	s       *compactionScheduler
	written uint64
}

func (h *pacedCompaction) Started()                                  {}
func (h *pacedCompaction) MeasureCPU(pebble.CompactionGoroutineKind) {}
func (h *pacedCompaction) Done()                                     { h.s.finished() }

// CumulativeStats is called by the compaction's own goroutine as it
// writes; blocking here slows it (Pebble's documented way to pace a
// compaction).
func (h *pacedCompaction) CumulativeStats(st pebble.CompactionGrantHandleStats) {
	d := int64(st.CumWriteBytes) - int64(h.written)
	h.written = st.CumWriteBytes
	if d <= 0 {
		return
	}
	p := h.s.pacer.Load()
	if p == nil || h.s.pressed() {
		return
	}
	(*p).Pace(d)
}

// pressure caches whether the LSM is near a write stall: reading Pebble's
// metrics costs more than a compaction's every-128-keys call should.
type pressure struct {
	at      atomic.Int64 // unix nanos of the last reading
	pressed atomic.Bool
}

// pressEvery is how often the LSM's shape is read again.
const pressEvery = 250 * time.Millisecond

// pressSublevels: with L0 this deep (twice L0CompactionThreshold, a
// little under half way to L0StopWritesThreshold) compactions run
// unpaced until it is shallower again. Pacing trades read amplification
// for foreground latency, and no further.
const pressSublevels = 8

// lsmPressed reports whether compactions must run at full speed: a write
// stall is on, or L0 is deep, or the store is not yet open or closing.
func (s *Store) lsmPressed() bool {
	select {
	case <-s.closing: // a paced compaction would hold Close up
		return true
	default:
	}
	if s.events.stallStart.Load() != 0 {
		return true
	}
	now := time.Now().UnixNano()
	if now-s.press.at.Load() < int64(pressEvery) {
		return s.press.pressed.Load()
	}
	s.press.at.Store(now)
	db := s.opened.Load()
	p := db == nil || db.Metrics().Levels[0].Sublevels >= pressSublevels
	s.press.pressed.Store(p)
	return p
}
