package loadgen

import (
	"context"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/report"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
)

// openLink joins an open-loop session's sender and receiver.
type openLink struct {
	// mu guards the connection's write side, session.broken and the order
	// of entries in inflight (which must equal the order on the wire).
	mu sync.Mutex
	// inflight carries each sent request to the receiver, in wire order.
	inflight chan pending
	// slots holds one token per operation in flight, at most depth.
	slots      chan struct{}
	senderDone chan struct{}
}

// runOpen drives the session in open loop: a sender issues operations on a
// fixed schedule while the receiver (this goroutine) reads the replies.
// Latency runs from each operation's scheduled start. The one exception is
// lateness the target did not cause: when the sender oversleeps (timer
// granularity is about a millisecond here), the operations that fell due
// while it slept are timed from its wake-up. Lateness from a full pipeline
// or socket, which the target does cause, is charged in full.
func (s *session) runOpen(ctx context.Context, ph *phase, limit int64, offset float64, w *worker) {
	link := &openLink{
		inflight:   make(chan pending, ph.depth),
		slots:      make(chan struct{}, ph.depth),
		senderDone: make(chan struct{}),
	}
	go func() {
		defer close(link.senderDone)
		s.send(ctx, ph, limit, offset, link, &recorder{w: w, lastFlush: s.now()})
	}()
	s.receive(ctx, ph, link, &recorder{w: w, lastFlush: s.now()})
}

func (s *session) send(ctx context.Context, ph *phase, limit int64, offset float64, link *openLink, rec *recorder) {
	origin := ph.start + int64(offset*ph.interval)
	lastWake := s.now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var issued int64
	i := int64(0)
	for ; issued < limit; i++ {
		intended := origin + int64(float64(i)*ph.interval)
		if intended >= ph.end {
			break
		}
		now := s.now()
		if intended > now {
			s.flushLocked(link)
			// Not woken by ph.stop: it closes at ph.end, after intended, so an
			// operation the sender is sleeping towards still belongs in the window.
			if !sleepUntil(timer, time.Duration(intended-now), ctx) {
				break
			}
			now = s.now()
			lastWake = now
		}
		if !s.acquire(ctx, ph, link) {
			break
		}
		now = s.now()
		measured := intended >= ph.measureStart
		s.sendOne(link, max(intended, lastWake), now, measured, rec)
		if measured {
			issued++
		}
		if next := origin + int64(float64(i+1)*ph.interval); next > now || len(link.inflight) == cap(link.inflight) {
			s.flushLocked(link)
		}
		rec.tick(now)
	}
	s.flushLocked(link)
	if ctx.Err() == nil && ph.end < maxTime {
		rec.counters.Unsent += unsent(origin, i, ph, issued, limit)
	}
	rec.flush(s.now())
}

// sendOne queues one operation that starts at start. The caller holds a slot.
func (s *session) sendOne(link *openLink, start, now int64, measured bool, rec *recorder) {
	link.mu.Lock()
	defer link.mu.Unlock()
	if s.broken {
		op := s.chooser.Next(s.opRand)
		<-link.slots
		s.failUnsent(kindOf(op), measured, rec)
		return
	}
	e := s.queueOp(start, measured)
	link.inflight <- e // never blocks: at most depth operations hold slots
	if measured {
		rec.latency(lagKind, now-start)
	}
}

// flushLocked sends the queued requests; a failed write breaks the
// connection and the receiver, failing on it, recovers.
func (s *session) flushLocked(link *openLink) {
	link.mu.Lock()
	defer link.mu.Unlock()
	if s.broken || s.conn.Buffered() == 0 {
		return
	}
	if _, err := s.conn.Flush(); err != nil {
		s.breakConn()
	}
}

// acquire takes a pipeline slot, flushing first if it has to wait. Once
// the window has closed, operations scheduled inside it may still wait up
// to Config.Timeout for a slot (they are timed from their schedule); after
// that they are abandoned and reported as unsent.
func (s *session) acquire(ctx context.Context, ph *phase, link *openLink) bool {
	select {
	case link.slots <- struct{}{}:
		return true
	default:
	}
	s.flushLocked(link)
	select {
	case link.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	case <-ph.stop:
	}
	drain := time.NewTimer(max(0, time.Duration(ph.drainUntil-s.now())))
	defer drain.Stop()
	select {
	case link.slots <- struct{}{}:
		return true
	case <-drain.C:
	case <-ctx.Done():
	}
	return false
}

func sleepUntil(t *time.Timer, d time.Duration, ctx context.Context) bool {
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

// unsent counts the measured operations scheduled before the end that the
// sender never got to, starting at schedule index i.
func unsent(origin, i int64, ph *phase, issued, limit int64) int64 {
	var n int64
	for ; issued+n < limit; i++ {
		intended := origin + int64(float64(i)*ph.interval)
		if intended >= ph.end {
			break
		}
		if intended >= ph.measureStart {
			n++
		}
	}
	return n
}

func (s *session) receive(ctx context.Context, ph *phase, link *openLink, rec *recorder) {
	for {
		var e pending
		select {
		case e = <-link.inflight:
		case <-link.senderDone:
			select {
			case e = <-link.inflight:
			default:
				rec.flush(s.now())
				return
			}
		}
		if err := s.conn.Next(replyShape[e.kind], &s.resp); err != nil {
			s.fail(&e, ioErrKind(err), rec)
			<-link.slots
			s.failInflight(link, ioErrKind(err), rec)
			s.recoverOpen(ctx, ph, link, rec)
			continue
		}
		now := s.conn.ReadAt()
		if s.account(&e, now, rec) {
			s.sendPutv(link, &e, rec)
		} else {
			<-link.slots
		}
		rec.tick(now)
	}
}

// sendPutv sends the write half of a cart right away.
func (s *session) sendPutv(link *openLink, e *pending, rec *recorder) {
	link.mu.Lock()
	defer link.mu.Unlock()
	next := pending{kind: report.Putv, key: e.key, opStart: e.opStart, measured: e.measured}
	if s.broken {
		s.fail(&next, report.ErrConn, rec)
		<-link.slots
		return
	}
	s.queuePutv(e)
	next.reqStart = s.now()
	link.inflight <- next // the getv's entry was taken, so there is room
	if _, err := s.conn.Flush(); err != nil {
		s.breakConn()
	}
}

// failInflight breaks the connection and fails every request sent on it.
func (s *session) failInflight(link *openLink, ek report.ErrKind, rec *recorder) {
	link.mu.Lock()
	defer link.mu.Unlock()
	s.breakConn()
	for {
		select {
		case e := <-link.inflight:
			s.fail(&e, ek, rec)
			<-link.slots
		default:
			return
		}
	}
}

// recoverOpen redials while the sender keeps its schedule, failing the
// operations that fall due meanwhile.
func (s *session) recoverOpen(ctx context.Context, ph *phase, link *openLink, rec *recorder) {
	nc, ok := s.redial(ctx, ph.stop)
	if !ok {
		return // stays broken: the remaining operations fail without I/O
	}
	link.mu.Lock()
	s.install(nc)
	link.mu.Unlock()
	rec.counters.Reconnects++
}

// kindOf maps a workload operation to the kind its failure is charged to.
func kindOf(op workload.Op) report.Kind { return report.Kind(op) }
