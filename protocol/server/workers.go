package server

import (
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// workers runs batches on long-lived goroutines. A goroutine per batch
// starts with a small stack that the engine's deep call paths (Pebble,
// BLAKE3's large frames) grow on every batch; profiles put that at a fifth
// of the server's CPU. Long-lived workers keep their grown stacks.
//
// The pool is elastic, because a worker may block for an fsync and group
// commit needs many writers waiting at once: a batch that finds no idle
// worker starts a new one, and a worker idle for idleAfter exits.
type workers struct {
	tasks     chan task // unbuffered: a send succeeds only if a worker is idle
	stop      chan struct{}
	idleAfter time.Duration
}

// task is a batch to run (work), or with fn set one call of fanout's.
type task struct {
	c  gnet.Conn
	st *conn
	b  *batch

	fn func(int)
	i  int             // fn's argument
	wg *sync.WaitGroup // told when fn has returned
}

func newWorkers(idleAfter time.Duration) *workers {
	return &workers{tasks: make(chan task), stop: make(chan struct{}), idleAfter: idleAfter}
}

func (w *workers) submit(s *Server, t task) {
	select {
	case w.tasks <- t:
	default:
		go w.run(s, t)
	}
}

func (w *workers) run(s *Server, t task) {
	idle := time.NewTimer(w.idleAfter)
	defer idle.Stop()
	for {
		if t.fn != nil {
			t.fn(t.i)
			t.wg.Done()
		} else {
			s.work(t.c, t.st, t.b)
		}
		idle.Reset(w.idleAfter)
		select {
		case t = <-w.tasks:
		case <-idle.C:
			return
		case <-w.stop:
			return
		}
	}
}

// close makes idle workers exit; busy ones exit after their batch.
func (w *workers) close() { close(w.stop) }

// fanout runs f(0), ..., f(n-1) at once and returns when all have
// returned: f(0) on the caller, the others on workers. It is how a batch
// runs a wave of commands, and a multi-key get its reads
// (memcache.Session.Fanout; see Server.blockingFanout).
func (s *Server) fanout(n int, f func(i int)) {
	if n == 0 {
		return
	}
	var wg sync.WaitGroup
	wg.Add(n - 1)
	for i := 1; i < n; i++ {
		s.workers.submit(s, task{fn: f, i: i, wg: &wg})
	}
	f(0)
	wg.Wait()
}
