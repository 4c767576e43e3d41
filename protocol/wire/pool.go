package wire

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Pool holds a Client per peer address. It is safe for concurrent use.
type Pool struct {
	opts   Options
	ctx    context.Context // cancelled by Close: aborts dials and probes
	cancel context.CancelFunc
	stats  poolCounters
	calls  callPool
	mu     struct {
		sync.RWMutex
		clients map[string]*Client
		closed  bool
	}
}

// NewPool returns a Pool with opts (defaults applied).
func NewPool(opts Options) (*Pool, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p := &Pool{opts: opts}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.mu.clients = make(map[string]*Client)
	return p, nil
}

// Client returns the client for addr, creating it on first use. A client of
// a closed pool fails every call with ErrClosed.
func (p *Pool) Client(addr string) *Client {
	p.mu.RLock()
	c := p.mu.clients[addr]
	p.mu.RUnlock()
	if c != nil {
		return c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c = p.mu.clients[addr]; c == nil {
		c = newClient(p, addr)
		if p.mu.closed {
			c.close()
		} else {
			p.mu.clients[addr] = c
		}
	}
	return c
}

// Call sends a request of type t with payload req to addr and waits for the
// response; see Client.Call.
func (p *Pool) Call(ctx context.Context, addr string, t MsgType, req, dst []byte) (MsgType, []byte, error) {
	return p.Client(addr).Call(ctx, t, req, dst)
}

// Healthy reports whether addr is not suspected down. A peer never called
// is healthy: there is no evidence against it.
func (p *Pool) Healthy(addr string) bool {
	p.mu.RLock()
	c := p.mu.clients[addr]
	p.mu.RUnlock()
	return c == nil || c.Healthy()
}

// Recover probes addr at once if it is suspected down, instead of at the
// end of its backoff: call it when another signal (gossip) says the peer
// is back, so that a restarted node is used again within a round trip
// rather than seconds later.
func (p *Pool) Recover(addr string) {
	p.mu.RLock()
	c := p.mu.clients[addr]
	p.mu.RUnlock()
	if c != nil && !c.Healthy() {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// Verify reports whether addr answers now: it pings the peer, past the
// fast failure of a suspected one, and marks it healthy when it answers.
// A suspicion can outlive its cause (a call issued into a partition times
// out after the partition healed), and so can another signal's (gossip's
// "dead"), so a decision that must not rest on a stale one, such as which
// owner decides a conditional write, verifies the peer first.
func (p *Pool) Verify(ctx context.Context, addr string) bool {
	c := p.Client(addr)
	if c.Ping(ctx) != nil {
		return false
	}
	if !c.Healthy() {
		c.markHealthy()
	}
	return true
}

// Remove closes the client for addr, failing its calls in flight with
// ErrClosed and stopping its probes. A later call to addr starts afresh.
func (p *Pool) Remove(addr string) {
	p.mu.Lock()
	c := p.mu.clients[addr]
	delete(p.mu.clients, addr)
	p.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// Close closes every client; calls in flight fail with ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.mu.closed = true
	clients := p.mu.clients
	p.mu.clients = map[string]*Client{}
	p.mu.Unlock()
	p.cancel()
	for _, c := range clients {
		c.close()
	}
	return nil
}

// Client is the caller's side of the connections to one peer: a few
// pooled connections, each multiplexing many calls, plus the peer's health.
type Client struct {
	pool    *Pool
	addr    string
	next    atomic.Uint32
	slots   []atomic.Pointer[clientConn]
	suspect atomic.Pointer[suspicion] // nil while healthy
	done    chan struct{}             // closed by close: stops the prober
	wake    chan struct{}             // Recover: probe now
	mu      struct {
		sync.Mutex
		dialing []*dialAttempt // per slot, while a dial runs
		closed  bool
	}
}

type suspicion struct{ err error }

// dialAttempt is one connection attempt that callers wait on.
type dialAttempt struct {
	done chan struct{}
	cc   *clientConn // set on success before done is closed
	err  error       // set on failure before done is closed
}

func newClient(p *Pool, addr string) *Client {
	c := &Client{pool: p, addr: addr, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	c.slots = make([]atomic.Pointer[clientConn], p.opts.ConnsPerPeer)
	c.mu.dialing = make([]*dialAttempt, p.opts.ConnsPerPeer)
	return c
}

// Addr returns the peer address.
func (c *Client) Addr() string { return c.addr }

// Healthy reports whether the peer is not suspected down.
func (c *Client) Healthy() bool { return c.suspect.Load() == nil }

// Call sends a request of type t with payload req and waits for the
// response. The response payload is appended to dst, which the caller owns
// (pass a reused buffer's [:0] to avoid allocating); the returned type and
// slice are the response's. req may be reused as soon as Call returns.
//
// Call returns at once with an error wrapping ErrPeerSuspect while the peer
// is suspected down. It returns the context's error (wrapped) when ctx ends
// first; the request's slot is freed and a late response is dropped. A
// deadline that passes with nothing received on the connection since the
// request was sent marks the peer suspect and closes that connection
// (context cancellation does not: a coordinator cancels calls it no longer
// needs). A context without a deadline gets Options.DefaultTimeout. If the
// connection fails, the error wraps ErrConnClosed and its cause; a handler
// error is a *RemoteError.
func (c *Client) Call(ctx context.Context, t MsgType, req, dst []byte) (MsgType, []byte, error) {
	if t.Reserved() {
		return 0, dst, fmt.Errorf("%w: request type %d is reserved", ErrUnknownType, t)
	}
	if s := c.suspect.Load(); s != nil {
		c.pool.stats.fastFails.Add(1)
		return 0, dst, s.err
	}
	return c.call(ctx, t, req, dst)
}

// Ping makes a round trip to the peer, even while it is suspected down. It
// does not change the peer's health unless it times out on a silent
// connection.
func (c *Client) Ping(ctx context.Context) error {
	_, _, err := c.call(ctx, TypePing, nil, nil)
	return err
}

func (c *Client) call(ctx context.Context, t MsgType, req, dst []byte) (MsgType, []byte, error) {
	if len(req) > c.pool.opts.MaxPayload {
		return 0, dst, fmt.Errorf("%w: %d-byte request, limit %d", ErrFrameTooLarge, len(req), c.pool.opts.MaxPayload)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.pool.opts.DefaultTimeout)
		defer cancel()
	}
	cc, err := c.conn(ctx)
	if err != nil {
		return 0, dst, err
	}
	return cc.call(ctx, t, req, dst)
}

// conn picks the next connection round-robin, dialing it if needed.
func (c *Client) conn(ctx context.Context) (*clientConn, error) {
	i := int(c.next.Add(1) % uint32(len(c.slots)))
	if cc := c.slots[i].Load(); cc != nil && !cc.broken.Load() {
		return cc, nil
	}
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if cc := c.slots[i].Load(); cc != nil && !cc.broken.Load() {
		c.mu.Unlock()
		return cc, nil
	}
	a := c.mu.dialing[i]
	if a == nil {
		a = &dialAttempt{done: make(chan struct{})}
		c.mu.dialing[i] = a
		go c.dial(i, a)
	}
	c.mu.Unlock()
	select {
	case <-a.done:
		return a.cc, a.err
	case <-ctx.Done():
	}
	err := fmt.Errorf("wire: dial %s: %w", c.addr, ctx.Err())
	if errors.Is(err, context.DeadlineExceeded) {
		// A connect that outlasts a call's deadline is as telling as a
		// silent connection (a SYN into a partition).
		c.pool.stats.timeouts.Add(1)
		c.markSuspect(err)
	}
	return nil, err
}

// dial runs one connection attempt for slot i. It is detached from the
// callers' contexts so that one impatient caller does not fail the others.
func (c *Client) dial(i int, a *dialAttempt) {
	defer close(a.done)
	ctx, cancel := context.WithTimeout(c.pool.ctx, c.pool.opts.DialTimeout)
	nc, err := c.pool.opts.Dial(ctx, c.addr)
	cancel()
	c.pool.stats.dials.Add(1)
	c.mu.Lock()
	c.mu.dialing[i] = nil
	switch {
	case err == nil && c.mu.closed:
		_ = nc.Close()
		a.err = ErrClosed
	case err == nil:
		a.cc = newClientConn(c, nc)
		c.slots[i].Store(a.cc)
	}
	c.mu.Unlock()
	if err != nil {
		c.pool.stats.dialFailures.Add(1)
		a.err = fmt.Errorf("wire: dial %s: %w", c.addr, err)
		if c.pool.ctx.Err() == nil {
			a.err = c.markSuspect(a.err)
		}
	}
}

// markSuspect records evidence that the peer is down and returns the error
// fast-failed calls get. The first mark after a healthy period notifies
// OnHealthChange and starts the prober.
func (c *Client) markSuspect(cause error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.suspect.Load(); s != nil {
		return s.err
	}
	s := &suspicion{err: fmt.Errorf("%w: %s: %w", ErrPeerSuspect, c.addr, cause)}
	if c.mu.closed {
		return s.err
	}
	c.suspect.Store(s)
	c.pool.stats.suspectMarks.Add(1)
	if f := c.pool.opts.OnHealthChange; f != nil {
		f(c.addr, false)
	}
	go c.probe()
	return s.err
}

// probe pings the suspect peer with exponential backoff until a ping
// succeeds, then marks it healthy.
func (c *Client) probe() {
	o := &c.pool.opts
	for wait := o.RetryMin; ; wait = min(2*wait, o.RetryMax) {
		t := time.NewTimer(jitter(wait))
		select {
		case <-t.C:
		case <-c.wake:
			t.Stop()
			wait = o.RetryMin / 2 // doubled back to RetryMin if this probe fails
		case <-c.done:
			t.Stop()
			return
		}
		ctx, cancel := context.WithTimeout(c.pool.ctx, o.ProbeTimeout)
		err := c.Ping(ctx)
		cancel()
		if err == nil {
			c.markHealthy()
			return
		}
	}
}

func (c *Client) markHealthy() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return
	}
	c.suspect.Store(nil)
	if f := c.pool.opts.OnHealthChange; f != nil {
		f(c.addr, true)
	}
}

// jitter spreads d by ±20 % so that peers do not probe in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/5 + rand.N(2*d/5+1)
}

func (c *Client) close() {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return
	}
	c.mu.closed = true
	close(c.done)
	c.mu.Unlock()
	for i := range c.slots {
		if cc := c.slots[i].Load(); cc != nil {
			cc.fail(ErrClosed)
		}
	}
}
