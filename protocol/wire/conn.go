package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// clientConn is one connection to a peer, multiplexing calls by request id.
// Callers encode their frame and register a call; a writer goroutine sends
// the frames; a reader goroutine matches responses to calls.
type clientConn struct {
	client   *Client
	nc       net.Conn
	out      *frameWriter
	nextID   atomic.Uint64
	lastRecv atomic.Int64  // monotonic time the reader last received a frame
	broken   atomic.Bool   // set by fail: the slot must be redialled
	closing  chan struct{} // closed by fail
	mu       struct {
		sync.Mutex
		pending map[uint64]*call
		err     error // why the connection failed; set once
	}
}

// call is one request awaiting its response. Exactly one of the reader, fail
// and the caller's timeout path removes it from pending; the reader and
// fail then fill in the result and signal done.
type call struct {
	done chan struct{} // capacity 1
	dst  []byte
	typ  MsgType
	resp []byte
	err  error
}

// callPool recycles calls within one Pool. It is per Pool, not global,
// because a call holds a channel: the simulator runs each cluster in its
// own testing/synctest bubble, and a channel made in one bubble must not
// be used in another.
type callPool struct{ p sync.Pool }

func (cp *callPool) get() *call {
	if cl, ok := cp.p.Get().(*call); ok {
		return cl
	}
	return &call{done: make(chan struct{}, 1)}
}

func (cp *callPool) put(cl *call) {
	cl.dst, cl.resp, cl.err, cl.typ = nil, nil, nil, 0
	cp.p.Put(cl)
}

// epoch anchors monotonic timestamps.
var epoch = time.Now()

func monotonic() int64 { return int64(time.Since(epoch)) }

func newClientConn(c *Client, nc net.Conn) *clientConn {
	cc := &clientConn{
		client:  c,
		nc:      nc,
		out:     newFrameWriter(nc, c.pool.opts.WriteTimeout),
		closing: make(chan struct{}),
	}
	cc.mu.pending = make(map[uint64]*call)
	go cc.out.run(cc.closing, cc.fail)
	go cc.readLoop()
	return cc
}

func (cc *clientConn) call(ctx context.Context, t MsgType, req, dst []byte) (MsgType, []byte, error) {
	id := cc.nextID.Add(1)
	frame := getBuffer()
	frame.b = AppendFrame(frame.b[:0], Header{Type: t, ID: id}, req)
	calls := &cc.client.pool.calls
	cl := calls.get()
	cl.dst = dst
	sentAt := monotonic()
	if err := cc.register(id, cl); err != nil {
		putBuffer(frame)
		calls.put(cl)
		return 0, dst, err
	}
	if !cc.out.send(frame, ctx.Done()) && cc.unregister(id) {
		// A stopped writer means fail already claimed the call, so the
		// context ended while the send queue was full.
		calls.put(cl)
		return 0, dst, cc.abandon(ctx.Err(), sentAt)
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		if cc.unregister(id) {
			calls.put(cl)
			return 0, dst, cc.abandon(ctx.Err(), sentAt)
		}
		<-cl.done // the reader or fail claimed it first; its result is due
	}
	typ, resp, err := cl.typ, cl.resp, cl.err
	calls.put(cl)
	return typ, resp, err
}

// abandon handles a call whose context ended before its response. A
// deadline on a connection silent since the request was sent is evidence
// the peer is down: mark it suspect and close this connection so the calls
// queued on it fail now rather than at their own deadlines.
func (cc *clientConn) abandon(ctxErr error, sentAt int64) error {
	c := cc.client
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		c.pool.stats.timeouts.Add(1)
		if cc.lastRecv.Load() < sentAt {
			// The calls still pending on this connection were sent: they
			// fail as a closed connection (outcome unknown), never with
			// the suspicion's error, which says a call was not sent and
			// so lets a caller retry it elsewhere. A forwarded incr
			// retried that way was counted twice once the paused peer
			// woke up and applied it too.
			c.markSuspect(fmt.Errorf("connection silent past a call's deadline: %w", ctxErr))
			cc.fail(fmt.Errorf("connection silent past a call's deadline: %w", ctxErr))
		}
	}
	return fmt.Errorf("wire: call to %s: %w", c.addr, ctxErr)
}

func (cc *clientConn) register(id uint64, cl *call) error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.mu.err != nil {
		return cc.mu.err
	}
	cc.mu.pending[id] = cl
	return nil
}

// unregister removes call id and reports whether it was still pending.
func (cc *clientConn) unregister(id uint64) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if _, ok := cc.mu.pending[id]; !ok {
		return false
	}
	delete(cc.mu.pending, id)
	return true
}

// fail closes the connection and fails every pending call with an error
// wrapping ErrConnClosed and cause. Only the first call has an effect.
func (cc *clientConn) fail(cause error) {
	cc.mu.Lock()
	if cc.mu.err != nil {
		cc.mu.Unlock()
		return
	}
	err := fmt.Errorf("%w: %s: %w", ErrConnClosed, cc.client.addr, cause)
	cc.mu.err = err
	pending := cc.mu.pending
	cc.mu.pending = nil
	cc.broken.Store(true)
	close(cc.closing)
	cc.mu.Unlock()
	if !errors.Is(cause, ErrClosed) {
		cc.client.pool.stats.connFailures.Add(1)
	}
	_ = cc.nc.Close()
	for _, cl := range pending {
		cl.err = err
		cl.done <- struct{}{}
	}
}

func (cc *clientConn) readLoop() {
	r := newFrameReader(cc.nc, cc.client.pool.opts.MaxPayload)
	for {
		if err := cc.readResponse(r); err != nil {
			cc.fail(err)
			return
		}
	}
}

// readResponse reads one frame and completes its call, if still pending.
func (cc *clientConn) readResponse(r *frameReader) error {
	h, err := r.readHeader()
	if err != nil {
		return err
	}
	if h.Flags&FlagResponse == 0 {
		return fmt.Errorf("%w: request frame (type %d) from a server", ErrMalformed, h.Type)
	}
	p, err := r.readPayload(h)
	if err != nil {
		return err
	}
	cc.lastRecv.Store(monotonic())
	cc.mu.Lock()
	cl := cc.mu.pending[h.ID]
	delete(cc.mu.pending, h.ID)
	cc.mu.Unlock()
	if cl == nil {
		cc.client.pool.stats.lateResponses.Add(1)
		return nil
	}
	if h.Flags&FlagError != 0 {
		cl.resp, cl.err = cl.dst, parseErrorPayload(p)
	} else {
		cl.typ, cl.resp = h.Type, append(cl.dst, p...)
	}
	cl.done <- struct{}{}
	return nil
}
