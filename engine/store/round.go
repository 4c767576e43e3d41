package store

import (
	"sync"
	"sync/atomic"
)

// A round is one commit of the background writer: every entry buffered
// before the writer captured its shard. Writers that need their write in
// Pebble (WAL, Sync, Flush) wait for the round that captures it; all waiters
// of a round are released together when it finishes, so they share one
// commit and, when any of them asked for it, one fsync.
type round struct {
	done     sync.WaitGroup // one count, released by finish
	finished atomic.Bool
	err      error // written before done is released

	// wanted is set by a waiter so that the writer runs the round even if
	// the buffer looks empty; wantSync asks for an fsync. Both are set
	// under a shard lock (or roundMu) before the writer captures the shard
	// (or takes the round), so the writer sees them in time.
	wanted   atomic.Bool
	wantSync atomic.Bool
}

func newRound() *round {
	r := &round{}
	r.done.Add(1)
	return r
}

// register records a waiter of mode d (WAL or Sync).
func (r *round) register(d Durability) {
	r.wanted.Store(true)
	if d == Sync {
		r.wantSync.Store(true)
	}
}

// finish releases the round's waiters with err. Later calls do nothing.
func (r *round) finish(err error) {
	if r.finished.CompareAndSwap(false, true) {
		r.err = err
		r.done.Done()
	}
}

// wait blocks until the round has finished and returns its error.
func (r *round) wait() error {
	r.done.Wait()
	return r.err
}
