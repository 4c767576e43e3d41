package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Each bad input must close its connection without calling the handler,
// while the server keeps serving other connections.
func TestServerRejectsBadFrames(t *testing.T) {
	good := AppendFrame(nil, Header{Type: typeEcho, ID: 1}, []byte("hello"))
	patch := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	oversized := patch(func(b []byte) { binary.LittleEndian.PutUint32(b[offLength:], 1<<20+1) })
	for _, tc := range []struct {
		name string
		in   []byte
		want error // nil: no protocol error, the stream just ended early
	}{
		{"memcached text", []byte("get foo\r\n" + "padding to a header"), ErrMalformed},
		{"wrong version", patch(func(b []byte) { b[offVersion] = 9 }), ErrVersion},
		{"bad checksum", patch(func(b []byte) { b[len(b)-1] ^= 0xFF }), ErrChecksum},
		{"corrupt header", patch(func(b []byte) { b[offID] ^= 1 }), ErrChecksum},
		{"oversized", oversized, ErrFrameTooLarge},
		{"unknown type", AppendFrame(nil, Header{Type: 99, ID: 1}, nil), ErrUnknownType},
		{"reserved type", AppendFrame(nil, Header{Type: FirstReservedType, ID: 1}, nil), ErrUnknownType},
		{"response to a server", AppendFrame(nil, Header{Type: typeEcho, Flags: FlagResponse, ID: 1}, nil), ErrMalformed},
		{"truncated", good[:len(good)-2], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler()
			connErrs := make(chan error, 1)
			srv, addr := startServer(t, h, ServerOptions{
				MaxPayload:  1 << 20,
				OnConnError: func(_ net.Addr, err error) { connErrs <- err },
			})
			pool := newTestPool(t, Options{})
			if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, []byte("a"), nil); err != nil {
				t.Fatal(err)
			}
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				_ = raw.(*net.TCPConn).CloseWrite()
			}
			_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := io.ReadAll(raw); len(n) > 0 || isTimeout(err) {
				t.Fatalf("server answered %q (%v) instead of closing", n, err)
			}
			if h.callCount() != 1 {
				t.Fatalf("handler called %d times", h.callCount())
			}
			if tc.want != nil {
				if err := recv(t, connErrs); !errors.Is(err, tc.want) {
					t.Fatalf("connection error %v, want %v", err, tc.want)
				}
				if srv.Stats().ProtocolErrors != 1 {
					t.Fatalf("stats %+v", srv.Stats())
				}
			}
			if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, []byte("b"), nil); err != nil {
				t.Fatalf("other connection after the bad one: %v", err)
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A server answers in the version of the request, and a client rejects a
// request frame coming back from a server.
func TestClientRejectsRequestFromServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := newFrameReader(c, DefaultMaxPayload)
		h, err := r.readHeader()
		if err != nil {
			return
		}
		_, _ = c.Write(AppendFrame(nil, Header{Type: typeEcho, ID: h.ID}, nil)) // no response flag
		_, _ = io.Copy(io.Discard, c)
	}()
	pool := newTestPool(t, Options{})
	_, _, err = pool.Call(ctxTimeout(t, 10*time.Second), l.Addr().String(), typeEcho, nil, nil)
	if !errors.Is(err, ErrConnClosed) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v", err)
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, h, ServerOptions{})
	pool := newTestPool(t, Options{})
	const n = 8
	results := make(chan error, n)
	for range n {
		go func() {
			_, resp, err := pool.Call(ctxTimeout(t, time.Hour), addr, typeSlow, []byte("xy"), nil)
			if err == nil && string(resp) != "yx" {
				err = errors.New("wrong response " + string(resp))
			}
			results <- err
		}()
	}
	for range n {
		recv(t, h.entered)
	}
	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(ctxTimeout(t, time.Hour)) }()
	eventually(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with handlers still running", err)
	default:
	}
	close(h.release)
	for range n {
		if err := recv(t, results); err != nil {
			t.Fatalf("in-flight call during shutdown: %v", err)
		}
	}
	if err := recv(t, shutdown); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestShutdownDeadlineForcesClose(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, h, ServerOptions{})
	pool := newTestPool(t, Options{})
	result := make(chan error, 1)
	go func() {
		_, _, err := pool.Call(ctxTimeout(t, time.Hour), addr, typeSlow, nil, nil)
		result <- err
	}()
	recv(t, h.entered)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := recv(t, result); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("call cut by a forced shutdown: %v", err)
	}
}

// concurrencyHandler records the most requests it ever ran at once.
type concurrencyHandler struct {
	active, peak atomic.Int32
	release      chan struct{}
	once         sync.Once
	limit        int32
}

func (h *concurrencyHandler) Handle(ctx context.Context, t MsgType, payload, dst []byte) (MsgType, []byte, error) {
	n := h.active.Add(1)
	defer h.active.Add(-1)
	for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
	}
	if n >= h.limit {
		h.once.Do(func() { close(h.release) })
	}
	<-h.release
	return typeEchoReply, append(dst, payload...), nil
}

func TestConcurrencyBoundedPerConnection(t *testing.T) {
	const limit = 4
	h := &concurrencyHandler{release: make(chan struct{}), limit: limit}
	_, addr := startServer(t, h, ServerOptions{MaxConcurrentPerConn: limit})
	pool := newTestPool(t, Options{ConnsPerPeer: 1})
	var wg sync.WaitGroup
	for range 5 * limit {
		wg.Go(func() {
			if _, _, err := pool.Call(ctxTimeout(t, time.Minute), addr, typeEcho, nil, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := h.peak.Load(); p != limit {
		t.Fatalf("peak concurrency %d, want %d", p, limit)
	}
}

func TestHandlerResponseLimits(t *testing.T) {
	big := HandlerFunc(func(_ context.Context, t MsgType, payload, dst []byte) (MsgType, []byte, error) {
		if t == typeFail {
			return TypePing, dst, nil // a reserved response type
		}
		return typeEchoReply, make([]byte, 2048), nil
	})
	_, addr := startServer(t, big, ServerOptions{MaxPayload: 1024})
	pool := newTestPool(t, Options{})
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); !errors.Is(err, ErrRemote) {
		t.Fatalf("oversized response: %v", err)
	}
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeFail, nil, nil); !errors.Is(err, ErrRemote) {
		t.Fatalf("reserved response type: %v", err)
	}
}

func TestHandlerSeesPeerAddr(t *testing.T) {
	got := make(chan net.Addr, 1)
	h := HandlerFunc(func(ctx context.Context, _ MsgType, _, dst []byte) (MsgType, []byte, error) {
		got <- PeerAddr(ctx)
		return typeEchoReply, dst, nil
	})
	_, addr := startServer(t, h, ServerOptions{})
	pool := newTestPool(t, Options{ConnsPerPeer: 1})
	if _, _, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, nil, nil); err != nil {
		t.Fatal(err)
	}
	local := pool.Client(addr).slots[0].Load().nc.LocalAddr().String()
	if a := <-got; a == nil || a.String() != local {
		t.Fatalf("PeerAddr %v, want %s", a, local)
	}
}

// gatedConn blocks its first Write until the gate opens and counts writes.
type gatedConn struct {
	net.Conn
	gate   chan struct{}
	writes atomic.Int32
}

func (c *gatedConn) Write(p []byte) (int, error) {
	if c.writes.Add(1) == 1 {
		<-c.gate
	}
	return c.Conn.Write(p)
}

// Frames queued while the writer is busy leave in one write.
func TestWriterCoalescesQueuedFrames(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	gated := &gatedConn{Conn: client, gate: make(chan struct{})}
	w := newFrameWriter(gated, 0)
	go w.run(nil, func(error) {})
	send := func(id int) {
		b := getBuffer()
		b.b = AppendFrame(b.b[:0], Header{Type: 1, ID: uint64(id)}, []byte("small"))
		if !w.send(b, nil) {
			t.Fatal("send failed")
		}
	}
	received := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(server)
		received <- all
	}()
	const n = 50
	send(0)
	eventually(t, "the first write to block", func() bool { return gated.writes.Load() == 1 })
	for i := 1; i < n; i++ {
		send(i) // queued while the writer is stuck in its first write
	}
	close(gated.gate)
	close(w.queue)
	<-w.done
	client.Close()
	all := <-received
	if len(all) != n*(HeaderSize+5) {
		t.Fatalf("received %d bytes", len(all))
	}
	if writes := gated.writes.Load(); writes != 2 {
		t.Fatalf("%d frames took %d writes, want 2", n, writes)
	}
}

// Responses built in dst, in a fresh slice, in a shared slice or in the
// request's own payload all arrive intact.
func TestHandlerResponseSlices(t *testing.T) {
	static := []byte("static response")
	h := HandlerFunc(func(_ context.Context, typ MsgType, payload, dst []byte) (MsgType, []byte, error) {
		switch payload[0] {
		case 's':
			return typeEchoReply, static, nil
		case 'p':
			return typeEchoReply, payload, nil // aliases the request buffer
		case 'g':
			for len(dst) < 10000 { // outgrows dst's capacity
				dst = append(dst, "grow"...)
			}
			return typeEchoReply, dst, nil
		}
		return typeEchoReply, append(dst, payload...), nil
	})
	_, addr := startServer(t, h, ServerOptions{})
	pool := newTestPool(t, Options{})
	for range 3 {
		for _, tc := range []struct{ req, want string }{
			{"s", string(static)},
			{"payload", "payload"},
			{"dst", "dst"},
			{"g", strings.Repeat("grow", 2500)},
		} {
			_, resp, err := pool.Call(ctxTimeout(t, 5*time.Second), addr, typeEcho, []byte(tc.req), nil)
			if err != nil || string(resp) != tc.want {
				t.Fatalf("request %q: %d bytes %v", tc.req, len(resp), err)
			}
		}
	}
	if string(static) != "static response" {
		t.Fatal("the server wrote into a handler's slice")
	}
}

// A client that stops reading its responses cannot pin the server: once
// a write makes no progress for WriteTimeout the connection is closed.
func TestServerClosesConnThatStopsReading(t *testing.T) {
	big := make([]byte, 1<<20)
	h := HandlerFunc(func(_ context.Context, _ MsgType, _, dst []byte) (MsgType, []byte, error) {
		return typeEchoReply, big, nil
	})
	connErrs := make(chan error, 1)
	_, addr := startServer(t, h, ServerOptions{
		MaxPayload:   2 << 20,
		WriteTimeout: 50 * time.Millisecond,
		OnConnError:  func(_ net.Addr, err error) { connErrs <- err },
	})
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.(*net.TCPConn).SetReadBuffer(4096)
	var reqs []byte
	for i := range 200 { // 200 MiB of responses: far more than socket buffers hold
		reqs = AppendFrame(reqs, Header{Type: typeEcho, ID: uint64(i)}, nil)
	}
	if _, err := raw.Write(reqs); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-connErrs:
		if !isTimeout(err) {
			t.Fatalf("connection ended with %v, want a write timeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server kept a non-reading connection")
	}
}
