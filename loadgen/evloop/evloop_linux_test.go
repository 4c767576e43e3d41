package evloop

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// pair returns a detached client socket and the server side of a real
// loopback TCP connection.
func pair(t *testing.T) (*Socket, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Detach(nc)
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { peer.Close(); s.Close() })
	return s, peer
}

// recorder counts readiness callbacks.
type recorder struct{ readable, writable int }

func (r *recorder) Readable() { r.readable++ }
func (r *recorder) Writable() { r.writable++ }

func newLoop(t *testing.T) *Loop {
	t.Helper()
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestReadReadinessAndWouldBlock(t *testing.T) {
	s, peer := pair(t)
	l := newLoop(t)
	var h recorder
	if err := l.Add(s, &h); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := s.Read(buf); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("read with nothing sent: %v, want ErrWouldBlock", err)
	}
	if n, _ := l.Wait(20 * time.Millisecond); n != 0 || h.readable != 0 {
		t.Fatalf("idle socket reported ready: n=%d %+v", n, h)
	}
	if _, err := s.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "ping" {
		t.Fatalf("peer read %q %v", got, err)
	}
	peer.Write([]byte("pong"))
	if n, err := l.Wait(time.Second); n != 1 || err != nil || h.readable != 1 {
		t.Fatalf("after reply: n=%d err=%v %+v", n, err, h)
	}
	if n, err := s.Read(buf); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	// Level-triggered: drained, the socket is quiet again.
	if n, _ := l.Wait(20 * time.Millisecond); n != 0 {
		t.Fatalf("drained socket reported ready")
	}
}

func TestPeerCloseIsReadableThenEOF(t *testing.T) {
	s, peer := pair(t)
	l := newLoop(t)
	var h recorder
	if err := l.Add(s, &h); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	if _, err := l.Wait(time.Second); err != nil || h.readable != 1 {
		t.Fatalf("hang-up not delivered: %v %+v", err, h)
	}
	if _, err := s.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("read after peer close: %v, want EOF", err)
	}
}

// A write larger than the socket buffers returns a short count and
// ErrWouldBlock; interest in writability then fires once the peer reads.
func TestShortWriteAndWritable(t *testing.T) {
	s, peer := pair(t)
	l := newLoop(t)
	var h recorder
	if err := l.Add(s, &h); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 64<<20)
	n, err := s.Write(big)
	if !errors.Is(err, ErrWouldBlock) || n <= 0 || n >= len(big) {
		t.Fatalf("write of %d bytes: n=%d err=%v, want a short write", len(big), n, err)
	}
	if err := s.WantWritable(true); err != nil {
		t.Fatal(err)
	}
	if c, _ := l.Wait(20 * time.Millisecond); c != 0 || h.writable != 0 {
		t.Fatalf("full socket reported writable: %+v", h)
	}
	drained := make(chan int64)
	go func() {
		got, _ := io.CopyN(io.Discard, peer, int64(n))
		drained <- got
	}()
	if got := <-drained; got != int64(n) {
		t.Fatalf("peer read %d of %d", got, n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for h.writable == 0 && time.Now().Before(deadline) {
		if _, err := l.Wait(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if h.writable == 0 {
		t.Fatal("writability never delivered after the peer drained")
	}
	s.WantWritable(false)
	h.writable = 0
	if c, _ := l.Wait(20 * time.Millisecond); c != 0 || h.writable != 0 {
		t.Fatalf("writability delivered after interest was removed: %+v", h)
	}
}

// closer closes its own socket and another one reported in the same
// batch; the loop must not call a handler of a closed socket.
type closer struct {
	self, other *Socket
	calls       *int
}

func (c *closer) Readable() {
	*c.calls++
	c.self.Close()
	c.other.Close()
}
func (c *closer) Writable() {}

func TestCloseInHandlerDropsPendingEvents(t *testing.T) {
	a, pa := pair(t)
	b, pb := pair(t)
	l := newLoop(t)
	calls := 0
	if err := l.Add(a, &closer{self: a, other: b, calls: &calls}); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(b, &closer{self: b, other: a, calls: &calls}); err != nil {
		t.Fatal(err)
	}
	pa.Write([]byte("x"))
	pb.Write([]byte("x"))
	time.Sleep(20 * time.Millisecond) // both ready before the wait
	if _, err := l.Wait(time.Second); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || l.Len() != 0 {
		t.Fatalf("handlers called %d times, %d sockets left; want 1 and 0", calls, l.Len())
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("read on closed socket: %v", err)
	}
}

func TestRemoveKeepsSocketOpenForAnotherLoop(t *testing.T) {
	s, peer := pair(t)
	l1, l2 := newLoop(t), newLoop(t)
	var h recorder
	if err := l1.Add(s, &h); err != nil {
		t.Fatal(err)
	}
	if err := l2.Add(s, &h); err == nil {
		t.Fatal("socket added to two loops")
	}
	l1.Remove(s)
	if err := l2.Add(s, &h); err != nil {
		t.Fatal(err)
	}
	peer.Write([]byte("x"))
	if n, err := l2.Wait(time.Second); n != 1 || err != nil || h.readable != 1 {
		t.Fatalf("second loop: n=%d err=%v %+v", n, err, h)
	}
	if n, _ := l1.Wait(10 * time.Millisecond); n != 0 {
		t.Fatal("first loop still reports the removed socket")
	}
}

type notASocket struct{ net.Conn }

func TestDetachNeedsADescriptor(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if _, err := Detach(notASocket{c1}); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("detach of a pipe: %v, want ErrUnsupported", err)
	}
}

func TestReattachKeepsTheConnection(t *testing.T) {
	s, peer := pair(t)
	l := newLoop(t)
	var h recorder
	if err := l.Add(s, &h); err != nil {
		t.Fatal(err)
	}
	nc, err := s.Reattach()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if l.Len() != 0 {
		t.Error("reattached socket still in the loop")
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("socket usable after reattach: %v", err)
	}
	peer.Write([]byte("ping"))
	nc.SetReadDeadline(time.Now().Add(time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != "ping" {
		t.Fatalf("read through the reattached conn: %q %v", got, err)
	}
}

// A session that finished must not be woken by its peer closing; the
// loop's owner removes it, and the descriptor goes quiet.
func TestRemovedSocketIsNotReportedOnHangUp(t *testing.T) {
	s, peer := pair(t)
	l := newLoop(t)
	var h recorder
	if err := l.Add(s, &h); err != nil {
		t.Fatal(err)
	}
	l.Remove(s)
	peer.Close()
	if n, _ := l.Wait(20 * time.Millisecond); n != 0 || h.readable != 0 {
		t.Fatalf("removed socket reported: n=%d %+v", n, h)
	}
}
