package store

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// writerState is owned by the writer goroutine (and by Close after the
// writer has exited).
type writerState struct {
	batch    *pebble.Batch // reused for every commit
	maxBatch int           // batch size cap, see maxBatchBytes
	captured []pending     // reused for every round
	unsynced bool          // something was committed without fsync since the last sync
	lastSync time.Time
}

func (w *writerState) init(db *pebble.DB, memTableBytes uint64) {
	w.maxBatch = int(min(maxBatchBytes, memTableBytes/4))
	// Retain a full batch's buffer (plus a large value) across rounds.
	w.batch = db.NewBatch(pebble.WithMaxRetainedSizeBytes(2 * w.maxBatch))
	w.lastSync = time.Now()
}

// writerStats are written by the writer and read by Metrics.
type writerStats struct {
	rounds     atomic.Uint64
	entries    atomic.Uint64
	bytes      atomic.Uint64
	maxEntries atomic.Uint64
	syncs      atomic.Uint64
}

// run is the background writer: it starts a round when kicked (a waiter, a
// full buffer, Flush), at every FlushInterval tick, and one last time when
// Close begins.
func (s *Store) run() {
	defer close(s.writerDone)
	tick := time.NewTicker(s.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.kick:
		case <-tick.C:
		case <-s.closing:
			s.drain()
			return
		}
		if s.failure.Load() == nil {
			s.round(false)
		}
	}
}

// drain commits and fsyncs what is left when Close begins. Puts are already
// stopped, so one round takes everything.
func (s *Store) drain() {
	if s.failure.Load() == nil {
		s.round(true)
	}
	s.buf.upcoming.Load().finish(ErrClosed) // puts are stopped: no waiter can be on it
}

// round commits every buffered entry in one group and releases the round's
// waiters. final forces an fsync.
func (s *Store) round(final bool) {
	syncDue := final || s.periodicSyncDue()
	s.roundMu.Lock()
	r := s.buf.upcoming.Load()
	if !final && s.buf.entries.Load() == 0 && !r.wanted.Load() && !syncDue {
		s.roundMu.Unlock()
		return
	}
	s.buf.upcoming.Store(newRound())
	s.roundMu.Unlock()

	c := s.buf.capture(s.w.captured[:0])
	// Each waiter of r registered under the lock of a shard captured
	// above, or under roundMu: its wishes are visible now.
	sync := syncDue || r.wantSync.Load()
	if s.opts.beforeCommit != nil {
		s.opts.beforeCommit()
	}
	if p := s.walFailed.Load(); p != nil {
		// Committing onto a broken log can crash the process; see walWatchFS.
		s.fail(*p, r)
		return
	}
	if err := s.commit(c, sync); err != nil {
		s.fail(err, r)
		return
	}
	s.room.release(s.buf.remove(c))
	clear(c) // drop references to values the buffer no longer holds
	s.w.captured = c[:0]
	r.finish(nil)
}

func (s *Store) periodicSyncDue() bool {
	return s.w.unsynced && s.opts.SyncInterval > 0 && time.Since(s.w.lastSync) >= s.opts.SyncInterval
}

// commit writes c to Pebble in batches of about maxBatch bytes. With sync
// the last batch is committed with fsync, which also covers the earlier
// ones; with nothing to write, sync still fsyncs an unsynced WAL.
func (s *Store) commit(c []pending, sync bool) error {
	b := s.w.batch
	var bytes uint64
	for start := 0; start < len(c); {
		b.Reset()
		end := start
		for ; end < len(c) && (end == start || b.Len() < s.w.maxBatch); end++ {
			p := &c[end]
			if p.del {
				_ = b.Delete(p.keyBytes(), nil)
			} else {
				_ = b.Set(p.keyBytes(), p.value, nil)
			}
		}
		bytes += uint64(b.Len())
		if err := s.apply(b, sync && end == len(c)); err != nil {
			return err
		}
		start = end
	}
	if len(c) == 0 && sync && s.w.unsynced {
		b.Reset()
		_ = b.LogData(nil, nil)
		if err := s.apply(b, true); err != nil {
			return err
		}
	}
	s.account(len(c), bytes)
	return nil
}

// apply commits one batch, turning Pebble's fatal reports and panics into
// an error.
func (s *Store) apply(b *pebble.Batch, sync bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			var wedged bool
			err, wedged = recoverCommit(r)
			if wedged {
				s.wedged.Store(true)
			}
		}
	}()
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if err := b.Commit(opts); err != nil {
		return err
	}
	if sync {
		s.w.unsynced = false
		s.w.lastSync = time.Now()
		s.stats.syncs.Add(1)
	} else {
		s.w.unsynced = true
	}
	return nil
}

func (s *Store) account(entries int, bytes uint64) {
	if entries == 0 {
		return
	}
	s.stats.rounds.Add(1)
	s.stats.entries.Add(uint64(entries))
	s.stats.bytes.Add(bytes)
	if uint64(entries) > s.stats.maxEntries.Load() {
		s.stats.maxEntries.Store(uint64(entries))
	}
}

// fail makes a commit failure sticky: writes stop, the entries stay
// buffered, and the waiters of r and of the upcoming round (the only rounds
// a waiter can be registered with) get the error.
func (s *Store) fail(cause error, r *round) {
	err := fmt.Errorf("%w: %w", ErrCommitFailed, cause)
	if !s.failure.CompareAndSwap(nil, &err) {
		s.failure.Store(&err)
	} else {
		// Once: every write fails from here on, and the operator must act.
		s.opts.Logger.Errorf("writes stopped: %v; reads go on from memory and disk; free the disk (or fix it) and restart the node, which replays the WAL (docs/operations.md, \"A full disk\")", err)
	}
	s.buf.stop(err)
	s.room.wakeAll()
	r.finish(err)
	s.roundMu.Lock() // a Flush that already holds the round registers first
	s.buf.upcoming.Load().finish(err)
	s.roundMu.Unlock()
}
