package loadgen

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/fakeserver"
)

// memConn is one end of an in-memory, buffered, full-duplex connection
// built on channels, so that it works inside a testing/synctest bubble
// (fake time) where real sockets cannot be used.
type memConn struct {
	in, out  chan []byte
	closed   chan struct{} // shared by both ends: closing either closes both
	once     *sync.Once
	pending  []byte
	mu       sync.Mutex
	deadline time.Time
}

func memPair() (*memConn, *memConn) {
	a, b := make(chan []byte, 4096), make(chan []byte, 4096)
	closed, once := make(chan struct{}), &sync.Once{}
	return &memConn{in: a, out: b, closed: closed, once: once}, &memConn{in: b, out: a, closed: closed, once: once}
}

func (c *memConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		c.mu.Lock()
		deadline := c.deadline
		c.mu.Unlock()
		var expired <-chan time.Time
		if !deadline.IsZero() {
			t := time.NewTimer(time.Until(deadline))
			defer t.Stop()
			expired = t.C
		}
		select {
		case c.pending = <-c.in:
		case <-c.closed:
			select { // deliver what was written before the close
			case c.pending = <-c.in:
			default:
				return 0, io.EOF
			}
		case <-expired:
			return 0, os.ErrDeadlineExceeded
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	case c.out <- append([]byte(nil), p...):
		return len(p), nil
	}
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

func (c *memConn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
func (c *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr{} }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem:1" }

// memDialer connects each dial to a fresh handler of srv.
func memDialer(srv *fakeserver.Server) Dialer {
	return func(context.Context, string) (net.Conn, error) {
		client, server := memPair()
		go srv.ServeConn(server)
		return client, nil
	}
}
