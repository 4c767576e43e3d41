package loadgen

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/client"
	"github.com/dynamo-kv/dynamo/loadgen/evloop"
	"github.com/dynamo-kv/dynamo/loadgen/report"
)

// eventLoop drives a worker's closed-loop sessions from one goroutine,
// locked to its thread, with an epoll loop (package evloop). It keeps the
// semantics of runClosed: up to depth requests outstanding per connection,
// each timed from the flush that sent it, and a new one queued only when a
// reply arrives. A reply is handled and the next request written on the
// thread that saw the socket become readable, with no goroutine hand-off;
// memcaslap and memtier do the same with libevent.
//
// A session whose connection fails or times out leaves the loop and
// finishes the phase on runClosed, which redials with backoff: the loop
// never blocks on a dial.
type eventLoop struct {
	ctx       context.Context
	ph        *phase
	timeout   int64 // ns without progress that fails a connection; <0 never
	loop      *evloop.Loop
	rec       recorder
	sessions  []*loopSession
	active    int
	lastCheck int64
	// handOff continues a failed session on runClosed with its remaining quota.
	handOff func(s *session, w *worker, limit int64)
}

// loopSession is one session's closed-loop state on an eventLoop.
type loopSession struct {
	el           *eventLoop
	s            *session
	sock         *evloop.Socket
	q            fifo
	unstamped    int // the last unstamped entries of q have not been flushed yet
	issued       int64
	limit        int64
	lastProgress int64
	blocked      bool // part of the write buffer waits for writability
	done         bool
}

// For tests: flushes the socket's buffer cut short, and socket readiness
// events the loops handled.
var shortWrites, loopEvents atomic.Int64

// loopWait bounds each epoll wait, so timeouts are checked even when no
// socket is ready.
const loopWait = 10 * time.Millisecond

// detachForLoop moves s's connection onto a nonblocking socket an event
// loop can drive. It fails, leaving the connection as it was, when the
// platform has no event loop or the connection has no descriptor (an
// injected transport).
func (s *session) detachForLoop() (*evloop.Socket, bool) {
	if !evloop.Supported || s.conn == nil || s.broken {
		return nil, false
	}
	switch t := s.conn.Transport().(type) {
	case *evloop.Socket:
		return t, true // detached in an earlier round
	case net.Conn:
		sock, err := evloop.Detach(t)
		if err != nil {
			return nil, false
		}
		s.conn.SetConn(sock)
		return sock, true
	}
	return nil, false
}

// reattach hands a connection an earlier round detached back to Go's
// netpoller, for a round that drives it from goroutines. If that fails the
// session is left broken, and its driver redials.
func (s *session) reattach() {
	sock, ok := s.conn.Transport().(*evloop.Socket)
	if !ok || s.broken {
		return
	}
	nc, err := sock.Reattach()
	if err != nil {
		s.breakConn()
		return
	}
	s.conn.SetConn(nc)
}

// newEventLoop prepares a loop for sessions already detached onto socks.
func newEventLoop(ctx context.Context, ph *phase, timeout int64, w *worker, handOff func(*session, *worker, int64)) (*eventLoop, error) {
	l, err := evloop.New()
	if err != nil {
		return nil, err
	}
	return &eventLoop{ctx: ctx, ph: ph, timeout: timeout, loop: l, rec: recorder{w: w}, handOff: handOff}, nil
}

func (el *eventLoop) add(s *session, sock *evloop.Socket, limit int64) {
	el.sessions = append(el.sessions, &loopSession{el: el, s: s, sock: sock, q: newFIFO(el.ph.depth), limit: limit})
}

// run drives the sessions until each has met its quota or the phase's end
// and received every reply, or has been handed off.
func (el *eventLoop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer el.loop.Close()
	now := el.now()
	el.rec.lastFlush, el.lastCheck = now, now
	for _, ls := range el.sessions {
		el.active++
		ls.lastProgress = now
		if err := el.loop.Add(ls.sock, ls); err != nil {
			ls.fail(report.ErrConn)
			continue
		}
		ls.issue(now)
	}
	var events int64 // published once at the end: no atomic per wait
	defer func() { loopEvents.Add(events) }()
	for el.active > 0 {
		n, err := el.loop.Wait(loopWait)
		events += int64(n)
		if err != nil {
			for _, ls := range el.sessions {
				if !ls.done {
					ls.fail(report.ErrConn)
				}
			}
			break
		}
		now = el.now()
		el.checkTimeouts(now)
		el.rec.tick(now)
	}
	// Every session has left the loop (finish removes its socket); those
	// that finished stay detached for the next round.
	el.rec.flush(el.now())
}

func (el *eventLoop) now() int64 { return el.sessions[0].s.now() }

// checkTimeouts fails connections that have had requests outstanding
// without progress for the timeout. It scans at most eight times per
// timeout, which bounds how late a timeout fires as runClosed's deadline
// slack does.
func (el *eventLoop) checkTimeouts(now int64) {
	if el.timeout < 0 || now-el.lastCheck < el.timeout/8 {
		return
	}
	el.lastCheck = now
	for _, ls := range el.sessions {
		if !ls.done && ls.q.n > 0 && now-ls.lastProgress >= el.timeout {
			ls.fail(report.ErrTimeout)
		}
	}
}

// Readable handles the replies one read delivers, then queues and sends
// the requests that replace them.
func (ls *loopSession) Readable() {
	s := ls.s
	switch err := s.conn.Fill(); err {
	case nil:
	case client.ErrWouldBlock:
		return
	default:
		ls.fail(ioErrKind(err))
		return
	}
	now := s.conn.ReadAt()
	ls.lastProgress = now
	rec := &ls.el.rec
	for ls.q.n > 0 {
		err := s.conn.NextBuffered(replyShape[ls.q.front().kind], &s.resp)
		if err == client.ErrIncomplete {
			break
		}
		if err != nil {
			ls.fail(ioErrKind(err))
			return
		}
		done := ls.q.pop()
		if s.account(&done, now, rec) {
			s.queuePutv(&done)
			ls.q.push(pending{kind: report.Putv, key: done.key, opStart: done.opStart, measured: done.measured})
			ls.unstamped++
		}
	}
	ls.issue(now)
}

// Writable resumes a flush the socket's buffer cut short.
func (ls *loopSession) Writable() {
	ls.flush()
	if !ls.blocked && !ls.done {
		if err := ls.sock.WantWritable(false); err != nil {
			ls.fail(report.ErrConn)
		}
	}
}

// issue tops the pipeline up and sends what was queued; with nothing
// outstanding and nothing left to issue, the session is done.
func (ls *loopSession) issue(now int64) {
	ph, s := ls.el.ph, ls.s
	for ls.q.n < ph.depth && now < ph.end && ls.issued < ls.limit && ls.el.ctx.Err() == nil {
		measured := now >= ph.measureStart
		ls.q.push(s.queueOp(0, measured))
		ls.unstamped++
		if measured {
			ls.issued++
		}
	}
	if ls.q.n == 0 {
		ls.finish()
		return
	}
	if ls.unstamped > 0 && !ls.blocked {
		ls.flush()
		if ls.blocked {
			if err := ls.sock.WantWritable(true); err != nil {
				ls.fail(report.ErrConn)
			}
		}
	}
}

// flush writes the queued requests, stamping those not yet stamped with
// the time the write began.
func (ls *loopSession) flush() {
	at, err := ls.s.conn.Flush()
	stamp(&ls.q, ls.unstamped, at)
	ls.unstamped = 0
	switch err {
	case nil:
		ls.blocked = false
		ls.lastProgress = at
	case client.ErrWouldBlock:
		ls.blocked = true
		ls.lastProgress = at
		shortWrites.Add(1)
	default:
		ls.fail(ioErrKind(err))
	}
}

// finish takes the session out of the loop's reckoning and its socket out
// of the interest set: a finished connection the server then closes would
// otherwise be reported readable on every wait. The socket stays open for
// the next round.
func (ls *loopSession) finish() {
	if !ls.done {
		ls.done = true
		ls.el.active--
		ls.el.loop.Remove(ls.sock)
	}
}

// fail fails every outstanding request with ek, closes the connection and
// hands the session to runClosed for the rest of its quota.
func (ls *loopSession) fail(ek report.ErrKind) {
	if ls.done {
		return
	}
	s := ls.s
	s.failAll(&ls.q, ek, &ls.el.rec)
	ls.unstamped = 0
	s.breakConn() // closes the socket, which leaves the loop
	ls.finish()
	if rest := ls.limit - ls.issued; rest > 0 {
		ls.el.handOff(s, ls.el.rec.w, rest)
	}
}
