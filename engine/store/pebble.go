package store

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// maxBatchBytes caps one Pebble batch (further capped at a quarter of the
// memtable). A round larger than this is committed as several batches, all
// but the last without fsync; the last one's fsync covers them all because
// the WAL is written in order (and a WAL rotation syncs the old log before
// the new one is used). It keeps the writer's batch buffer small and keeps
// batches below Pebble's large-batch threshold (half a memtable), above
// which each batch would force a memtable flush.
const maxBatchBytes = 4 << 20

// pebbleEvents counts what Pebble reports through its EventListener.
type pebbleEvents struct {
	writeStalls      atomic.Uint64
	writeStallNanos  atomic.Int64
	stallStart       atomic.Int64 // unix nanos of the open stall; Pebble reports stalls one at a time
	backgroundErrors atomic.Uint64
}

func (ev *pebbleEvents) listener(log Logger) *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			ev.backgroundErrors.Add(1)
			log.Errorf("pebble background error: %v", err)
		},
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			ev.backgroundErrors.Add(1)
			log.Errorf("pebble data corruption: %v", info)
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			log.Warnf("pebble disk slow: %v", info)
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			ev.writeStalls.Add(1)
			ev.stallStart.Store(time.Now().UnixNano())
			log.Warnf("pebble write stall began: %s", info.Reason)
		},
		WriteStallEnd: func() {
			if start := ev.stallStart.Swap(0); start != 0 {
				d := time.Duration(time.Now().UnixNano() - start)
				ev.writeStallNanos.Add(int64(d))
				log.Warnf("pebble write stall ended after %v", d)
			}
		},
	}
}

// pebbleOptions derives Pebble's options from ours: the newest format, our
// own cache, bloom filters for point reads, and L0/compaction settings for a
// small (2-core) machine writing large memtables.
func pebbleOptions(o *Options, cache *pebble.Cache, ev *pebbleEvents, walFailed *atomic.Pointer[error], sched pebble.CompactionScheduler) *pebble.Options {
	po := &pebble.Options{
		FS:                 walWatchFS{FS: o.FS, failed: walFailed},
		Cache:              cache,
		FormatMajorVersion: pebble.FormatNewest,
		MemTableSize:       o.MemTableBytes,
		// Four memtables let writes continue while one or two flush.
		MemTableStopWritesThreshold: memTablesBeforeStall,
		L0CompactionThreshold:       4,
		// Stall late: on 2 cores compactions fall behind in bursts.
		L0StopWritesThreshold: 20,
		// Lbase about as large as L0 at its compaction threshold.
		LBaseMaxBytes:              max(64<<20, 4*int64(o.MemTableBytes)),
		CompactionConcurrencyRange: func() (int, int) { return 1, 2 },
		Logger:                     pebbleLogger{o.Logger},
		EventListener:              ev.listener(o.Logger),
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	if sched != nil {
		po.Experimental.CompactionScheduler = sched
	}
	return po
}

// pebbleLogger forwards Pebble's messages and turns Fatalf into a panic
// carrying a pebbleFatal, which the writer recovers into an error.
type pebbleLogger struct{ log Logger }

func (l pebbleLogger) Infof(format string, args ...any)  { l.log.Infof(format, args...) }
func (l pebbleLogger) Errorf(format string, args ...any) { l.log.Errorf(format, args...) }

func (l pebbleLogger) Fatalf(format string, args ...any) {
	f := pebbleFatal{msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			f.cause = err
			break
		}
	}
	l.log.Errorf("pebble fatal: %s", f.msg)
	panic(f)
}

// pebbleFatal is what Pebble reported through Fatalf. Pebble calls Fatalf on
// a failed commit after releasing its commit pipeline, so the DB can still
// be closed.
type pebbleFatal struct {
	msg   string
	cause error
}

func (f pebbleFatal) Error() string { return f.msg }
func (f pebbleFatal) Unwrap() error { return f.cause }

// recoverCommit converts a panic raised while committing into an error.
// wedged reports a panic other than pebbleFatal: Pebble panics like that
// while holding its commit pipeline's lock, after which DB.Close would hang.
func recoverCommit(r any) (err error, wedged bool) {
	var f pebbleFatal
	if e, ok := r.(error); ok && errors.As(e, &f) {
		return f, false
	}
	if e, ok := r.(error); ok {
		return fmt.Errorf("pebble panicked: %w", e), true
	}
	return fmt.Errorf("pebble panicked: %v", r), true
}

// memTablesBeforeStall is how many memtables Pebble holds (one being
// filled, the rest waiting for their flush) before it stalls writes.
const memTablesBeforeStall = 4
