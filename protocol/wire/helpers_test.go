package wire

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// Message types used by the tests.
const (
	typeEcho  MsgType = 1 // response: the payload reversed, type typeEchoReply
	typeSlow  MsgType = 2 // blocks until the test releases it, then echoes
	typeFail  MsgType = 3 // returns the payload as an error message
	typeCoded MsgType = 4 // returns NewRemoteError(7, payload)

	typeEchoReply MsgType = 101
)

var testTypes = NewTypeSet(typeEcho, typeSlow, typeFail, typeCoded)

// testHandler serves the test types. Slow requests announce themselves on
// entered and wait for release (or their context).
type testHandler struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func newTestHandler() *testHandler {
	return &testHandler{entered: make(chan struct{}, 1024), release: make(chan struct{})}
}

func (h *testHandler) Handle(ctx context.Context, t MsgType, payload, dst []byte) (MsgType, []byte, error) {
	h.mu.Lock()
	h.calls++
	h.mu.Unlock()
	switch t {
	case typeSlow:
		h.entered <- struct{}{}
		select {
		case <-h.release:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	case typeFail:
		return 0, nil, errors.New(string(payload))
	case typeCoded:
		return 0, nil, NewRemoteError(7, string(payload))
	}
	dst = append(dst, payload...)
	slices.Reverse(dst)
	return typeEchoReply, dst, nil
}

func (h *testHandler) callCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

func reversed(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

// startServer serves h on a fresh loopback port until the test ends.
func startServer(t testing.TB, h Handler, opts ServerOptions) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, l, h, opts), l.Addr().String()
}

func serveOn(t testing.TB, l net.Listener, h Handler, opts ServerOptions) *Server {
	t.Helper()
	if opts.Types.Empty() {
		opts.Types = testTypes
	}
	s, err := NewServer(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := recv(t, done); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s
}

func newTestPool(t testing.TB, opts Options) *Pool {
	t.Helper()
	p, err := NewPool(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// healthEvents records OnHealthChange calls on a channel.
func healthEvents(opts *Options) <-chan bool {
	ch := make(chan bool, 64)
	opts.OnHealthChange = func(_ string, healthy bool) { ch <- healthy }
	return ch
}

func waitHealth(t *testing.T, ch <-chan bool, want bool) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("health event %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no health event %v", want)
	}
}

// eventually polls cond until it holds, failing the test after 10 s. It
// waits for a condition, not for time to pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// recv receives from ch, failing the test instead of hanging if nothing
// comes within 10 s.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received within 10 s")
		panic("unreachable")
	}
}
