package loadgen

import (
	"context"

	"github.com/dynamo-kv/dynamo/loadgen/report"
)

// runClosed drives the session in closed loop: it keeps up to depth
// requests outstanding, sending a new one only when a reply arrives. One
// goroutine does both sides; requests queued while replies are still
// buffered leave together at the next blocking read. Each request is timed
// from the flush that sent it.
func (s *session) runClosed(ctx context.Context, ph *phase, limit int64, rec *recorder) {
	q := newFIFO(ph.depth)
	unstamped := 0 // the last unstamped entries of q have not been flushed yet
	var issued int64
	now := s.now()
	rec.lastFlush = now
	if s.broken && !s.recover(ctx, ph, rec) {
		return
	}
	for {
		for q.n < ph.depth && now < ph.end && issued < limit && ctx.Err() == nil {
			measured := now >= ph.measureStart
			q.push(s.queueOp(0, measured))
			unstamped++
			if measured {
				issued++
			}
		}
		if q.n == 0 {
			break
		}
		e := q.front()
		flushes, _ := s.conn.Flushes()
		err := s.conn.NextFlushing(replyShape[e.kind], &s.resp)
		if n, at := s.conn.Flushes(); n != flushes {
			stamp(&q, unstamped, at)
			unstamped = 0
		}
		if err != nil {
			s.failAll(&q, ioErrKind(err), rec)
			unstamped = 0
			s.breakConn()
			if !s.recover(ctx, ph, rec) {
				break
			}
			now = s.now()
			continue
		}
		now = s.conn.ReadAt()
		done := q.pop()
		if s.account(&done, now, rec) {
			s.queuePutv(&done)
			q.push(pending{kind: report.Putv, key: done.key, opStart: done.opStart, measured: done.measured})
			unstamped++
		}
		rec.tick(now)
	}
	rec.flush(now)
}

// stamp sets the start of the last n entries of q, just flushed at at.
func stamp(q *fifo, n int, at int64) {
	for i := q.n - n; i < q.n; i++ {
		e := q.at(i)
		e.reqStart = at
		if e.opStart == 0 {
			e.opStart = at
		}
	}
}

// failAll fails every outstanding request.
func (s *session) failAll(q *fifo, ek report.ErrKind, rec *recorder) {
	for q.n > 0 {
		e := q.pop()
		s.fail(&e, ek, rec)
	}
}

// recover replaces a broken connection, unless the phase ends first.
func (s *session) recover(ctx context.Context, ph *phase, rec *recorder) bool {
	nc, ok := s.redial(ctx, ph.stop)
	if !ok {
		return false
	}
	s.install(nc)
	rec.counters.Reconnects++
	return true
}
