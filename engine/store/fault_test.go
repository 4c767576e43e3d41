package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// walFaults injects errorfs.ErrInjected into operations of the given kinds
// on WAL files while armed.
type walFaults struct {
	armed atomic.Bool
	kinds []errorfs.OpKind
}

func (f *walFaults) MaybeError(op errorfs.Op) error {
	if !f.armed.Load() || !strings.HasSuffix(op.Path, ".log") {
		return nil
	}
	for _, k := range f.kinds {
		if op.Kind == k {
			return errorfs.ErrInjected
		}
	}
	return nil
}

func (f *walFaults) String() string { return "wal faults" }

// TestCommitErrorReachesWriters fails the WAL fsync: the Sync writer and
// every later writer get an error, the store does not panic, the data stays
// readable from the buffer, and Close reports what was not written.
func TestCommitErrorReachesWriters(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			faults := &walFaults{kinds: []errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo}}
			opts := testOptions(errorfs.Wrap(vfs.NewMem(), faults))
			s, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			mustSet(t, s, "before", "ok", Sync)
			faults.armed.Store(true)

			// The write in the mode under test is acknowledged or not
			// according to its mode; the fsync that follows fails.
			err = s.Set([]byte("k"), []byte("v"), mode)
			if mode == Sync {
				expectCommitFailure(t, "Sync Set", err)
			} else if err != nil {
				t.Fatalf("%v Set before any fsync = %v", mode, err)
			}
			expectCommitFailure(t, "Flush", s.Flush())
			expectCommitFailure(t, "later Set", s.Set([]byte("later"), []byte("x"), Buffered))
			expectCommitFailure(t, "later Delete", s.Delete([]byte("before"), WAL))

			expectGet(t, s, "k", "v", true)
			expectGet(t, s, "before", "ok", true)
			expectGet(t, s, "later", "", false)
			m := s.Metrics()
			if !errors.Is(m.Failure, ErrCommitFailed) {
				t.Fatalf("Metrics.Failure = %v", m.Failure)
			}
			if mode != WAL && m.BufferEntries != 1 {
				// A WAL-mode write committed before the fsync failed and left
				// the buffer; the others are still buffered.
				t.Fatalf("BufferEntries = %d after the failure, want 1", m.BufferEntries)
			}
			err = s.Close()
			expectCommitFailure(t, "Close", err)
		})
	}
}

// TestWALWriteErrorStopsWrites fails WAL writes with periodic syncs off.
// Pebble's flusher meets the error after the WAL-mode commit has returned,
// so that write is acknowledged; the store must notice the failed write and
// refuse the next commit instead of letting Pebble commit onto the broken
// log (which ends in a Pebble panic, and on a WAL rotation in a fatal
// runtime error).
func TestWALWriteErrorStopsWrites(t *testing.T) {
	faults := &walFaults{kinds: []errorfs.OpKind{errorfs.OpFileWrite, errorfs.OpFileWriteAt}}
	opts := testOptions(errorfs.Wrap(vfs.NewMem(), faults))
	logged := &errorLog{}
	opts.Logger = logged
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	faults.armed.Store(true)
	big := strings.Repeat("v", 40<<10) // fills a WAL block, so the flusher writes it
	mustSet(t, s, "acked", big, WAL)
	waitFor(t, "the flusher to hit the injected error", func() bool { return s.walFailed.Load() != nil })

	expectCommitFailure(t, "next WAL Set", s.Set([]byte("refused"), []byte("x"), WAL))
	expectCommitFailure(t, "later Buffered Set", s.Set([]byte("later"), nil, Buffered))
	if s.wedged.Load() {
		t.Fatal("the store committed onto the broken log")
	}
	expectGet(t, s, "acked", big, true)   // in Pebble's memtable
	expectGet(t, s, "refused", "x", true) // kept in the buffer
	expectCommitFailure(t, "Close", s.Close())
	// The operator hears of it once, with what to do.
	if got := logged.matching("writes stopped"); got != 1 || logged.matching("restart the node") != 1 {
		t.Fatalf("%d error lines say the writes stopped, want 1: %q", got, logged.lines())
	}
}

// errorLog records the Errorf lines a store logs.
type errorLog struct {
	mu  sync.Mutex
	msg []string
}

func (l *errorLog) Infof(string, ...any) {}
func (l *errorLog) Warnf(string, ...any) {}
func (l *errorLog) Errorf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msg = append(l.msg, fmt.Sprintf(format, args...))
}

func (l *errorLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msg)
}

func (l *errorLog) matching(sub string) int {
	n := 0
	for _, m := range l.lines() {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func TestRecoverCommit(t *testing.T) {
	cause := errors.New("disk on fire")
	cases := []struct {
		name       string
		panicValue any
		wantWedged bool
	}{
		{"Fatalf after a failed commit", pebbleFatal{msg: "pebble: fatal commit error", cause: cause}, false},
		{"panic with an error", fmt.Errorf("wrapped: %w", cause), true},
		{"panic with a string", "pebble: batch already committing", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err, wedged := recoverCommit(c.panicValue)
			if wedged != c.wantWedged {
				t.Fatalf("wedged = %v, want %v", wedged, c.wantWedged)
			}
			if _, isString := c.panicValue.(string); !isString && !errors.Is(err, cause) {
				t.Fatalf("error %v lost its cause", err)
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func expectCommitFailure(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrCommitFailed) || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("%s = %v; want ErrCommitFailed wrapping the injected error", what, err)
	}
}
