package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestConcurrentRoundTrips(t *testing.T) {
	_, addr := startServer(t, newTestHandler(), ServerOptions{})
	pool := newTestPool(t, Options{})
	const callers, calls = 64, 100
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Go(func() {
			var dst []byte
			for i := range calls {
				req := fmt.Appendf(nil, "caller %d call %d %s", g, i, strings.Repeat("x", (g*i)%700))
				typ, resp, err := pool.Call(ctxTimeout(t, 10*time.Second), addr, typeEcho, req, dst[:0])
				if err != nil {
					errs <- err
					return
				}
				if typ != typeEchoReply || !bytes.Equal(resp, reversed(req)) {
					errs <- fmt.Errorf("caller %d call %d: type %d, response %q", g, i, typ, resp)
					return
				}
				dst = resp
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s := pool.Stats(); s.Dials != 2 || s.Timeouts != 0 || s.ConnFailures != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLargePayloads(t *testing.T) {
	_, addr := startServer(t, newTestHandler(), ServerOptions{})
	pool := newTestPool(t, Options{})
	for _, size := range []int{0, readBufferSize - HeaderSize, readBufferSize + 1, 1 << 20, DefaultMaxPayload} {
		req := bytes.Repeat([]byte{byte(size)}, size)
		if size > 0 {
			req[0], req[size/2] = 'A', 'Z' // so that reversing shows
		}
		_, resp, err := pool.Call(ctxTimeout(t, 10*time.Second), addr, typeEcho, req, nil)
		if err != nil || !bytes.Equal(resp, reversed(req)) {
			t.Fatalf("%d bytes: %v", size, err)
		}
	}
	_, _, err := pool.Call(ctxTimeout(t, time.Second), addr, typeEcho, make([]byte, DefaultMaxPayload+1), nil)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized request: %v", err)
	}
}

func TestRemoteErrors(t *testing.T) {
	_, addr := startServer(t, newTestHandler(), ServerOptions{})
	pool := newTestPool(t, Options{})
	long := strings.Repeat("e", 2*MaxErrorMessage)
	for _, tc := range []struct {
		typ      MsgType
		payload  string
		wantCode uint16
		wantMsg  string
	}{
		{typeFail, "disk on fire", 0, "disk on fire"},
		{typeFail, long, 0, long[:MaxErrorMessage]},
		{typeCoded, "not found", 7, "not found"},
	} {
		dst := []byte("keep")
		_, resp, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, tc.typ, []byte(tc.payload), dst)
		re, ok := errors.AsType[*RemoteError](err)
		if !ok || !errors.Is(err, ErrRemote) || re.Code != tc.wantCode || re.Msg != tc.wantMsg {
			t.Fatalf("got %v, want code %d %q", err, tc.wantCode, tc.wantMsg)
		}
		if string(resp) != "keep" {
			t.Fatalf("dst changed to %q", resp)
		}
	}
	// The connection survives handler errors.
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, []byte("ok"), nil); err != nil {
		t.Fatal(err)
	}
}

func TestResponsesCompleteOutOfOrder(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, h, ServerOptions{})
	pool := newTestPool(t, Options{ConnsPerPeer: 1})
	slow := make(chan error, 1)
	go func() {
		_, _, err := pool.Call(ctxTimeout(t, 10*time.Second), addr, typeSlow, []byte("s"), nil)
		slow <- err
	}()
	recv(t, h.entered)
	if _, _, err := pool.Call(ctxTimeout(t, 10*time.Second), addr, typeEcho, []byte("fast"), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-slow:
		t.Fatalf("slow call finished before it was released: %v", err)
	default:
	}
	close(h.release)
	if err := recv(t, slow); err != nil {
		t.Fatal(err)
	}
}

// expiringContext is a context whose deadline the test triggers, so that
// what happens before and after it is not left to the scheduler.
type expiringContext struct {
	context.Context
	done chan struct{}
}

func newExpiringContext() *expiringContext {
	return &expiringContext{Context: context.Background(), done: make(chan struct{})}
}

func (c *expiringContext) expire()                     { close(c.done) }
func (c *expiringContext) Done() <-chan struct{}       { return c.done }
func (c *expiringContext) Deadline() (time.Time, bool) { return time.Now().Add(time.Hour), true }
func (c *expiringContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// A call that times out frees its slot; its response, arriving later, is
// dropped; a timeout while the connection is receiving other responses does
// not make the peer suspect.
func TestDeadlineFreesSlotAndDropsLateResponse(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, h, ServerOptions{})
	opts := Options{ConnsPerPeer: 1}
	events := healthEvents(&opts)
	pool := newTestPool(t, opts)
	ctx := newExpiringContext()
	done := make(chan error, 1)
	go func() {
		_, _, err := pool.Call(ctx, addr, typeSlow, []byte("late"), nil)
		done <- err
	}()
	recv(t, h.entered) // the slow request was sent and received
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	ctx.expire()
	if err := recv(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out call returned %v", err)
	}
	cc := pool.Client(addr).slots[0].Load()
	cc.mu.Lock()
	pending := len(cc.mu.pending)
	cc.mu.Unlock()
	if pending != 0 {
		t.Fatalf("%d calls still pending after the timeout", pending)
	}
	close(h.release)
	eventually(t, "the late response to be dropped", func() bool { return pool.Stats().LateResponses == 1 })
	if _, resp, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, []byte("next"), nil); err != nil || string(resp) != "txen" {
		t.Fatalf("call after a late response: %q %v", resp, err)
	}
	if s := pool.Stats(); s.Timeouts != 1 || s.SuspectMarks != 0 || !pool.Healthy(addr) || len(events) != 0 {
		t.Fatalf("a timeout on a busy connection changed the peer's health: %+v", s)
	}
	if pool.Client(addr).slots[0].Load() != cc {
		t.Fatal("the connection was replaced")
	}
}

// A deadline passing on a silent connection marks the peer suspect and
// fails the other calls on that connection at once; later calls fail fast;
// the probe brings the peer back. The calls that were sent never fail with
// ErrPeerSuspect, which tells a caller the request was not sent (the
// cluster then retries it elsewhere: a forwarded incr was counted twice).
func TestSilentTimeoutMarksSuspect(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, h, ServerOptions{})
	opts := Options{ConnsPerPeer: 1, RetryMin: time.Hour, RetryMax: time.Hour}
	events := healthEvents(&opts)
	pool := newTestPool(t, opts)
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); err != nil {
		t.Fatal(err)
	}
	ctx := newExpiringContext()
	results := make(chan error, 2)
	for range 2 {
		go func() {
			_, _, err := pool.Call(ctx, addr, typeSlow, nil, nil)
			results <- err
		}()
	}
	recv(t, h.entered)
	recv(t, h.entered)
	other := make(chan error, 1)
	go func() {
		_, _, err := pool.Call(ctxTimeout(t, time.Hour), addr, typeSlow, nil, nil)
		other <- err
	}()
	recv(t, h.entered)
	ctx.expire()
	for range 2 {
		err := recv(t, results)
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrConnClosed) || errors.Is(err, ErrPeerSuspect) {
			t.Fatalf("silent call: %v", err)
		}
	}
	if err := recv(t, other); !errors.Is(err, ErrConnClosed) || errors.Is(err, ErrPeerSuspect) {
		t.Fatalf("other call on the silent connection: %v (it was sent: not ErrPeerSuspect)", err)
	}
	waitHealth(t, events, false)
	if _, _, err := pool.Call(ctxTimeout(t, time.Hour), addr, typeEcho, nil, nil); !errors.Is(err, ErrPeerSuspect) {
		t.Fatalf("call while suspect: %v", err)
	}
	if s := pool.Stats(); s.SuspectMarks != 1 || s.FastFails != 1 {
		t.Fatalf("stats %+v", s)
	}
	if err := pool.Client(addr).Ping(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("ping bypasses suspicion: %v", err)
	}
}

func TestProbeRestoresSuspectPeer(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, h, ServerOptions{})
	opts := Options{RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond}
	events := healthEvents(&opts)
	pool := newTestPool(t, opts)
	ctx := newExpiringContext()
	go func() {
		recv(t, h.entered)
		ctx.expire()
	}()
	if _, _, err := pool.Call(ctx, addr, typeSlow, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	waitHealth(t, events, false)
	waitHealth(t, events, true) // the server still answers pings
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestDialFailureFailsFast(t *testing.T) {
	addr := freeAddr(t)
	opts := Options{RetryMin: time.Hour, RetryMax: time.Hour} // no probe during the test
	events := healthEvents(&opts)
	pool := newTestPool(t, opts)
	_, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil)
	if !errors.Is(err, ErrPeerSuspect) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("first call: %v", err)
	}
	waitHealth(t, events, false)
	if pool.Healthy(addr) {
		t.Fatal("peer still healthy")
	}
	for range 100 {
		if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); !errors.Is(err, ErrPeerSuspect) {
			t.Fatalf("call while suspect: %v", err)
		}
	}
	if s := pool.Stats(); s.Dials != 1 || s.DialFailures != 1 || s.FastFails != 100 {
		t.Fatalf("stats %+v", s)
	}
	if !pool.Healthy("192.0.2.1:9") { // TEST-NET: never dialled

		t.Fatal("an address never called is not healthy")
	}
}

func TestReconnectAfterPeerRestart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	first := serveOn(t, l, newTestHandler(), ServerOptions{})
	opts := Options{RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond}
	events := healthEvents(&opts)
	pool := newTestPool(t, opts)
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); err != nil {
		t.Fatal(err)
	}
	_ = first.Close()
	// The closed connections fail; the redial is refused and marks the peer.
	eventually(t, "the peer to be marked suspect", func() bool {
		_, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil)
		return errors.Is(err, ErrPeerSuspect)
	})
	waitHealth(t, events, false)

	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, l2, newTestHandler(), ServerOptions{})
	waitHealth(t, events, true)
	if _, resp, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, []byte("ab"), nil); err != nil || string(resp) != "ba" {
		t.Fatalf("after restart: %q %v", resp, err)
	}
}

// Calls in flight when the peer dies fail promptly with ErrConnClosed,
// long before their deadlines.
func TestPeerCrashFailsCallsInFlight(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, h, ServerOptions{})
	pool := newTestPool(t, Options{})
	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() {
			_, _, err := pool.Call(ctxTimeout(t, time.Hour), addr, typeSlow, nil, nil)
			errs <- err
		}()
	}
	for range n {
		recv(t, h.entered)
	}
	_ = srv.Close()
	for range n {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrConnClosed) {
				t.Fatalf("in-flight call: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("in-flight call did not fail after the peer closed")
		}
	}
}

func TestCancelledCallDoesNotMarkSuspect(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, h, ServerOptions{})
	pool := newTestPool(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		recv(t, h.entered)
		cancel()
	}()
	if _, _, err := pool.Call(ctx, addr, typeSlow, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if !pool.Healthy(addr) || pool.Stats().Timeouts != 0 {
		t.Fatal("cancellation counted as a timeout")
	}
}

func TestPoolCloseAndRemove(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, h, ServerOptions{})
	pool := newTestPool(t, Options{})
	inflight := make(chan error, 1)
	go func() {
		_, _, err := pool.Call(ctxTimeout(t, time.Hour), addr, typeSlow, nil, nil)
		inflight <- err
	}()
	recv(t, h.entered)
	pool.Remove(addr)
	if err := recv(t, inflight); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrConnClosed) {
		t.Fatalf("in-flight call on a removed client: %v", err)
	}
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); err != nil {
		t.Fatalf("a removed peer must start afresh: %v", err)
	}
	c := pool.Client(addr)
	_ = pool.Close()
	if _, _, err := c.Call(ctxTimeout(t, 5*time.Second), typeEcho, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call on a closed pool's client: %v", err)
	}
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call on a closed pool: %v", err)
	}
}

func TestPingAndReservedTypes(t *testing.T) {
	_, addr := startServer(t, newTestHandler(), ServerOptions{})
	pool := newTestPool(t, Options{})
	if err := pool.Client(addr).Ping(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []MsgType{0, FirstReservedType, TypePing} {
		if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typ, nil, nil); !errors.Is(err, ErrUnknownType) {
			t.Fatalf("type %d: %v", typ, err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{
		{ConnsPerPeer: -1},
		{MaxPayload: MaxPayloadLimit + 1},
		{DialTimeout: -1},
		{RetryMin: time.Second, RetryMax: time.Millisecond},
	} {
		if _, err := NewPool(o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for _, o := range []ServerOptions{
		{},
		{Types: testTypes, MaxConcurrentPerConn: -1},
		{Types: testTypes, MaxPayload: -5},
	} {
		if _, err := NewServer(newTestHandler(), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// Closing the pool and the server ends every goroutine they started,
// including writers, readers, workers, dials and probes.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		h := newTestHandler()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv, err := NewServer(h, ServerOptions{Types: testTypes})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		pool, err := NewPool(Options{RetryMin: time.Millisecond, RetryMax: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		for i := range 20 {
			if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, []byte{byte(i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		go func() { _, _, _ = pool.Call(ctxTimeout(t, time.Hour), addr, typeSlow, nil, nil) }()
		recv(t, h.entered)
		_, _, _ = pool.Call(ctxTimeout(t, 5*time.Second), freeAddr(t), typeEcho, nil, nil) // starts a prober
		_ = pool.Close()
		_ = srv.Close()
		if err := recv(t, served); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve: %v", err)
		}
	}()
	eventually(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

// TestRecoverProbesAtOnce: a suspect peer whose backoff is an hour is
// healthy again as soon as Recover is called once it answers.
// refusingPool is a pool, with no probes of its own during a test, whose
// dials are refused while *down.
func refusingPool(t *testing.T) (pool *Pool, down *atomic.Bool) {
	down = &atomic.Bool{}
	down.Store(true)
	opts := Options{RetryMin: time.Hour, RetryMax: time.Hour}
	opts.Dial = func(ctx context.Context, a string) (net.Conn, error) {
		if down.Load() {
			return nil, syscall.ECONNREFUSED
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", a)
	}
	return newTestPool(t, opts), down
}

func TestRecoverProbesAtOnce(t *testing.T) {
	_, addr := startServer(t, newTestHandler(), ServerOptions{})
	pool, down := refusingPool(t)
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); err == nil {
		t.Fatal("call through a refusing dialer succeeded")
	}
	if pool.Healthy(addr) {
		t.Fatal("peer healthy after a refused dial")
	}
	down.Store(false)
	pool.Recover(addr)
	deadline := time.Now().Add(10 * time.Second)
	for !pool.Healthy(addr) {
		if time.Now().After(deadline) {
			t.Fatal("peer still suspect 10 s after Recover")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Verify pings a suspected peer at once and clears the suspicion when it
// answers; a peer that still refuses stays suspect.
func TestVerifyClearsAStaleSuspicion(t *testing.T) {
	_, addr := startServer(t, newTestHandler(), ServerOptions{})
	pool, down := refusingPool(t)
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); err == nil {
		t.Fatal("call through a refusing dialer succeeded")
	}
	if pool.Verify(ctxTimeout(t, 5*time.Second), addr) || pool.Healthy(addr) {
		t.Fatal("a peer that still refuses verified")
	}
	down.Store(false)
	if !pool.Verify(ctxTimeout(t, 5*time.Second), addr) || !pool.Healthy(addr) {
		t.Fatal("a peer that answers did not verify, or stayed suspect")
	}
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); err != nil {
		t.Fatalf("call after Verify: %v", err)
	}
}
