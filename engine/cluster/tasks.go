package cluster

import "sync"

// tasks tracks the goroutines that outlive the request or tick that
// started them (read repairs, the rest of a write round, background
// loops), so that Close can wait for them. Once closed it starts no more:
// a bare WaitGroup would let a request that raced Close add to it while
// Close waits, which sync.WaitGroup forbids (and a simulated crash found).
type tasks struct {
	mu     sync.Mutex // held only to check closed and Add, never across work
	closed bool
	wg     sync.WaitGroup
}

// add registers one task; ok is false once closed. done must be called
// exactly once when it ends.
func (t *tasks) add() (done func(), ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, false
	}
	t.wg.Add(1)
	return t.wg.Done, true
}

// goTask runs f in a new goroutine as a task; false (f not run) once
// closed.
func (t *tasks) goTask(f func()) bool {
	done, ok := t.add()
	if !ok {
		return false
	}
	go func() {
		defer done()
		f()
	}()
	return true
}

// closeAndWait refuses new tasks and waits for the running ones.
func (t *tasks) closeAndWait() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}
