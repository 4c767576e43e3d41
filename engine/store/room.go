package store

import (
	"sync"
	"sync/atomic"
	"time"
)

// room accounts the write buffer's bytes and blocks writers while it is
// full (backpressure).
type room struct {
	limit int64
	used  atomic.Int64

	mu      sync.Mutex
	cond    sync.Cond    // signalled when bytes are released or writes stop
	waiting atomic.Int32 // writers inside reserve's slow path

	stalls     atomic.Uint64
	stallNanos atomic.Int64
}

func (r *room) init(limit int64) {
	r.limit = limit
	r.cond.L = &r.mu
}

// tryReserve takes n bytes if they fit. An empty buffer admits any size so
// that one write larger than the limit cannot block forever.
func (r *room) tryReserve(n int64) bool {
	for {
		cur := r.used.Load()
		if cur > 0 && cur+n > r.limit {
			return false
		}
		if r.used.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// reserve takes n bytes, blocking while the buffer is full. kick wakes the
// background writer; stopped reports why writes are refused, and ends the
// wait with that error.
func (r *room) reserve(n int64, kick func(), stopped func() error) error {
	if r.tryReserve(n) {
		return nil
	}
	start := time.Now()
	r.stalls.Add(1)
	defer func() { r.stallNanos.Add(int64(time.Since(start))) }()

	r.mu.Lock()
	defer r.mu.Unlock()
	r.waiting.Add(1)
	defer r.waiting.Add(-1)
	for !r.tryReserve(n) {
		if err := stopped(); err != nil {
			return err
		}
		kick()
		r.cond.Wait()
	}
	return nil
}

// release returns n bytes and wakes blocked writers.
func (r *room) release(n int64) {
	if n == 0 {
		return
	}
	r.used.Add(-n)
	if r.waiting.Load() > 0 {
		r.wakeAll()
	}
}

// wakeAll wakes every blocked writer so that it re-checks for room or for a
// reason to stop.
func (r *room) wakeAll() {
	r.mu.Lock()
	r.cond.Broadcast()
	r.mu.Unlock()
}
