package wiretest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/wire"
)

const (
	typeEcho  wire.MsgType = 1
	typeOther wire.MsgType = 2
	typeHang  wire.MsgType = 3 // announces itself on cluster.entered, then waits for cancellation
)

// cluster is one echo server behind a wrapped listener and a pool whose
// dials go through the same Network.
type cluster struct {
	net     *Network
	addr    string
	pool    *wire.Pool
	health  chan bool
	entered chan struct{}
}

func newCluster(t *testing.T, opts wire.Options) *cluster {
	t.Helper()
	n := NewNetwork(1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{net: n, addr: l.Addr().String(), health: make(chan bool, 16), entered: make(chan struct{}, 16)}
	h := wire.HandlerFunc(func(ctx context.Context, t wire.MsgType, payload, dst []byte) (wire.MsgType, []byte, error) {
		if t == typeHang {
			c.entered <- struct{}{}
			<-ctx.Done()
		}
		return t, append(dst, payload...), nil
	})
	srv, err := wire.NewServer(h, wire.ServerOptions{Types: wire.NewTypeSet(typeEcho, typeOther, typeHang)})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(n.Listener(l)) }()
	t.Cleanup(func() { _ = srv.Close() })
	opts.Dial = n.Dialer(nil)
	opts.OnHealthChange = func(_ string, healthy bool) { c.health <- healthy }
	if c.pool, err = wire.NewPool(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.pool.Close() })
	return c
}

func (c *cluster) call(timeout time.Duration, payload string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, resp, err := c.pool.Call(ctx, c.addr, typeEcho, []byte(payload), nil)
	return string(resp), err
}

func (c *cluster) waitHealth(t *testing.T, want bool) {
	t.Helper()
	select {
	case got := <-c.health:
		if got != want {
			t.Fatalf("health %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no health event %v", want)
	}
}

func TestRefuseFailsDialsFast(t *testing.T) {
	c := newCluster(t, wire.Options{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	c.net.Set(c.addr, Fault{Refuse: true})
	_, err := c.call(5*time.Second, "x")
	if !errors.Is(err, wire.ErrPeerSuspect) || !errors.Is(err, ErrRefused) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v", err)
	}
	c.waitHealth(t, false)
	c.net.Heal(c.addr)
	c.waitHealth(t, true)
	if got, err := c.call(5*time.Second, "back"); err != nil || got != "back" {
		t.Fatalf("after heal: %q %v", got, err)
	}
}

// A partition makes calls time out and the peer suspect; once healed, the
// probe finds the peer and calls succeed again.
func TestBlackHolePartitionsAndHeals(t *testing.T) {
	c := newCluster(t, wire.Options{ConnsPerPeer: 1, RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond})
	if _, err := c.call(5*time.Second, "before"); err != nil {
		t.Fatal(err)
	}
	c.net.Set(c.addr, Fault{BlackHole: true})
	if _, err := c.call(50*time.Millisecond, "lost"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call into a black hole: %v", err)
	}
	c.waitHealth(t, false)
	if _, err := c.call(time.Hour, "fast"); !errors.Is(err, wire.ErrPeerSuspect) {
		t.Fatalf("call to a suspect peer: %v", err)
	}
	c.net.Heal(c.addr)
	c.waitHealth(t, true)
	if got, err := c.call(5*time.Second, "after"); err != nil || got != "after" {
		t.Fatalf("after heal: %q %v", got, err)
	}
}

func TestResetFailsCallsInFlight(t *testing.T) {
	c := newCluster(t, wire.Options{ConnsPerPeer: 1})
	result := make(chan error, 1)
	go func() {
		_, _, err := c.pool.Call(context.Background(), c.addr, typeHang, nil, nil)
		result <- err
	}()
	recv(t, c.entered)
	if n := c.net.Reset(c.addr); n != 2 {
		t.Fatalf("Reset aborted %d connections, want the client's and the server's", n)
	}
	if err := recv(t, result); !errors.Is(err, wire.ErrConnClosed) {
		t.Fatalf("in-flight call after a reset: %v", err)
	}
}

func TestDropLosesWholeFrames(t *testing.T) {
	c := newCluster(t, wire.Options{ConnsPerPeer: 1})
	c.net.Set(c.addr, Fault{Drop: func(h wire.Header) bool { return h.Type == typeOther }})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := c.pool.Call(ctx, c.addr, typeOther, []byte("dropped"), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dropped request: %v", err)
	}
	// The stream stays aligned: other frames on the same connection arrive.
	// (The timeout above may have marked the peer suspect and closed the
	// connection; a new one obeys the same fault.)
	eventually(t, func() bool {
		got, err := c.call(5*time.Second, "kept")
		return err == nil && got == "kept"
	})
	if c.net.Dropped() == 0 {
		t.Fatal("nothing counted as dropped")
	}
}

// frameStream returns n frames of random types and sizes.
func frameStream(rng *rand.Rand, n int) []byte {
	var b []byte
	for i := range n {
		b = wire.AppendFrame(b, wire.Header{Type: wire.MsgType(1 + rng.IntN(3)), ID: uint64(i)}, bytes.Repeat([]byte{byte(i)}, rng.IntN(100)))
	}
	return b
}

// The filter gives the same result however the stream is split into writes.
func TestFilterIgnoresWriteBoundaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	decide := func(h wire.Header) bool { return h.Type == 2 }
	for range 200 {
		stream := frameStream(rng, 20)
		var whole frameFilter
		want := whole.filter(nil, stream, decide)
		var split frameFilter
		var got []byte
		for rest := stream; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(40))
			got = split.filter(got, rest[:k], decide)
			rest = rest[k:]
		}
		if !bytes.Equal(got, want) {
			t.Fatal("split writes filtered differently")
		}
		// What survives is exactly the frames of the other types, intact.
		var expect []byte
		for rest := stream; len(rest) > 0; {
			h, err := wire.ParseHeader(rest, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			n := wire.HeaderSize + int(h.Length)
			if h.Type != 2 {
				expect = append(expect, rest[:n]...)
			}
			rest = rest[n:]
		}
		if !bytes.Equal(want, expect) {
			t.Fatal("the filter did not keep exactly the undropped frames")
		}
	}
	var opaque frameFilter
	if got := opaque.filter(nil, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), decide); string(got) != "GET / HTTP/1.1\r\nHost: x\r\n\r\n" {
		t.Fatalf("non-wire stream changed: %q", got)
	}
}

// pipe returns a wrapped client end and the raw server end of a loopback
// TCP connection.
func pipe(t *testing.T, n *Network) (*Conn, net.Conn, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	nc, err := n.Dialer(nil)(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	t.Cleanup(func() { nc.Close(); server.Close() })
	return nc.(*Conn), server, addr
}

func TestBlackHoleHoldsBytesUntilHealed(t *testing.T) {
	n := NewNetwork(1)
	client, server, addr := pipe(t, n)
	n.Set(addr, Fault{BlackHole: true})
	if _, err := client.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := client.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during a black hole: %v", err)
	}
	_ = server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := server.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("peer read during a black hole: %v", err)
	}
	n.Heal(addr)
	_ = client.SetReadDeadline(time.Time{})
	_ = server.SetReadDeadline(time.Time{})
	got := make([]byte, 4)
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "held" {
		t.Fatalf("peer got %q %v after heal", got, err)
	}
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "back" {
		t.Fatalf("got %q %v after heal", got, err)
	}
}

func TestDelayKeepsOrder(t *testing.T) {
	n := NewNetwork(1)
	client, server, addr := pipe(t, n)
	const delay = 30 * time.Millisecond
	n.Set(addr, Fault{Delay: delay})
	start := time.Now()
	for _, s := range []string{"a", "b", "c"} {
		if _, err := client.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, 3)
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "abc" {
		t.Fatalf("got %q %v", got, err)
	}
	if elapsed := time.Since(start); elapsed < delay {
		t.Fatalf("delayed bytes arrived after %v, before the %v delay", elapsed, delay)
	}
	// Lifting the delay lets later writes through once the queue drains,
	// still in order.
	n.Heal(addr)
	if _, err := client.Write([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(server, got[:1]); err != nil || got[0] != 'd' {
		t.Fatalf("got %q %v", got[:1], err)
	}
}

func TestDropRateFollowsSeed(t *testing.T) {
	run := func() []byte {
		n := NewNetwork(42)
		client, server, addr := pipe(t, n)
		n.Set(addr, Fault{DropRate: 0.5})
		stream := frameStream(rand.New(rand.NewPCG(5, 6)), 100)
		if _, err := client.Write(stream); err != nil {
			t.Fatal(err)
		}
		client.Close()
		got, _ := io.ReadAll(server)
		if d := n.Dropped(); d < 20 || d > 80 {
			t.Fatalf("dropped %d of 100 frames at rate 0.5", d)
		}
		return got
	}
	if !bytes.Equal(run(), run()) {
		t.Fatal("the same seed dropped different frames")
	}
}

func TestListenerRefuseResetsAcceptedConns(t *testing.T) {
	n := NewNetwork(1)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := n.Listener(raw)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello"))
		}
	}()
	n.Set(raw.Addr().String(), Fault{Refuse: true})
	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		return // the reset beat the end of the handshake: refused either way
	}
	defer c.Close()
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("a refused connection delivered %q", b)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

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
