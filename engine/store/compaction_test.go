package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// fakeDB is the DB side of the scheduler protocol: Pebble allows `allowed`
// compactions at once and has `waiting` ready to run.
type fakeDB struct {
	mu      sync.Mutex
	allowed int
	waiting int
	started []pebble.CompactionGrantHandle
}

func (f *fakeDB) GetAllowedWithoutPermission() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.allowed
}

func (f *fakeDB) GetWaitingCompaction() (bool, pebble.WaitingCompaction) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting > 0, pebble.WaitingCompaction{}
}

func (f *fakeDB) Schedule(h pebble.CompactionGrantHandle) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.waiting == 0 {
		return false
	}
	f.waiting--
	f.started = append(f.started, h)
	return true
}

func (f *fakeDB) startedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

// The scheduler runs as many compactions as Pebble allows, starts waiting
// ones when a running one ends, and grants nothing once unregistered.
func TestSchedulerRunsWhatPebbleAllows(t *testing.T) {
	db := &fakeDB{allowed: 2, waiting: 5}
	s := newCompactionScheduler(func() bool { return false })
	s.db = db // Register without its granting loop: the test grants

	ok1, h1 := s.TrySchedule()
	ok2, _ := s.TrySchedule()
	if ok3, _ := s.TrySchedule(); !ok1 || !ok2 || ok3 {
		t.Fatalf("TrySchedule with 2 allowed: %v %v %v, want true true false", ok1, ok2, ok3)
	}
	s.grant()
	if n := db.startedCount(); n != 0 {
		t.Fatalf("grant with both slots busy started %d", n)
	}
	h1.Done()
	s.grant()
	if n := db.startedCount(); n != 1 {
		t.Fatalf("grant after one ended started %d, want 1", n)
	}
	db.mu.Lock()
	db.allowed = 4 // Pebble wants more: debt or a deep L0
	db.mu.Unlock()
	s.grant()
	if n := db.startedCount(); n != 3 {
		t.Fatalf("grant with 4 allowed started %d in all, want 3", n)
	}

	s.Register(1, db) // its loop, so Unregister has one to stop
	s.Unregister()
	for _, h := range db.started {
		h.Done()
	}
	if ok, _ := s.TrySchedule(); ok {
		t.Fatal("TrySchedule granted after Unregister")
	}
	s.grant()
	if n := db.startedCount(); n != 3 {
		t.Fatalf("grant after Unregister started %d in all, want still 3", n)
	}
}

// blockingPacer counts the bytes it is asked to pace and holds the first
// call until released.
type blockingPacer struct {
	bytes   atomic.Int64
	calls   atomic.Int64
	entered chan struct{} // closed at the first call
	release chan struct{}
	once    sync.Once
}

func newBlockingPacer() *blockingPacer {
	return &blockingPacer{entered: make(chan struct{}), release: make(chan struct{})}
}

func (p *blockingPacer) Pace(n int64) {
	p.bytes.Add(n)
	p.calls.Add(1)
	first := false
	p.once.Do(func() { first = true; close(p.entered) })
	if first {
		<-p.release
	}
}

// fillL0 writes n memtables' worth of distinct keys, so that Pebble
// flushes them to L0 and compacts.
func fillL0(t *testing.T, s *Store, n int) {
	t.Helper()
	val := make([]byte, 1024)
	for i := range n * 1100 { // a 1 MiB memtable holds about 1,000 such
		if err := s.Set(fmt.Appendf(nil, "key%08d", i), val, Buffered); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			mustFlush(t, s)
		}
	}
	mustFlush(t, s)
}

// A compaction reports its bytes to the pacer as it writes, and waits while
// the pacer holds it: the pacer slows compactions.
func TestCompactionsArePacedByTheirBytes(t *testing.T) {
	opts := testOptions(vfs.NewMem())
	opts.MemTableBytes = 1 << 20
	s := mustOpen(t, opts)
	p := newBlockingPacer()
	t.Cleanup(func() {
		select {
		case <-p.release:
		default:
			close(p.release)
		}
	})
	s.SetCompactionPacer(p)
	fillL0(t, s, 12)

	<-p.entered
	if got := s.db.Metrics().Compact.NumInProgress; got == 0 {
		t.Fatal("the pacer holds a compaction, yet none is in progress")
	}
	close(p.release)
	waitFor(t, "a compaction to finish", func() bool { return s.db.Metrics().Compact.Count > 0 })
	if p.bytes.Load() <= 0 {
		t.Fatalf("pacer saw %d bytes over %d calls", p.bytes.Load(), p.calls.Load())
	}
}

// With L0 deep (as the last reading of the LSM found it), compactions are
// not paced: a pacer that would hold them forever is not called, and they
// finish.
func TestCompactionsRunUnpacedNearAStall(t *testing.T) {
	opts := testOptions(vfs.NewMem())
	opts.MemTableBytes = 1 << 20
	s := mustOpen(t, opts)
	p := newBlockingPacer()
	t.Cleanup(func() { close(p.release) })
	s.press.pressed.Store(true)
	s.press.at.Store(time.Now().Add(time.Hour).UnixNano()) // no fresh reading within the test
	s.SetCompactionPacer(p)
	fillL0(t, s, 12)

	waitFor(t, "a compaction to finish", func() bool { return s.db.Metrics().Compact.Count > 0 })
	if n := p.calls.Load(); n != 0 {
		t.Fatalf("pacer called %d times during a write stall", n)
	}
}

// What stops pacing: a write stall, and Close (a paced compaction would
// hold it up); a fresh store with a shallow L0 is paced.
func TestLSMPressed(t *testing.T) {
	s := mustOpen(t, testOptions(vfs.NewMem()))
	if s.lsmPressed() {
		t.Fatal("an empty store is pressed")
	}
	s.events.stallStart.Store(time.Now().UnixNano())
	if !s.lsmPressed() {
		t.Fatal("not pressed during a write stall")
	}
	s.events.stallStart.Store(0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !s.lsmPressed() {
		t.Fatal("not pressed once closing")
	}
}
