package simnet

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// listener accepts the streams dialled to one port of a host.
type listener struct {
	host      *Host
	addr      Addr
	accept    chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

// Listen opens a stream listener on addr (HOST:PORT; port 0 picks one).
func (h *Host) Listen(addr string) (net.Listener, error) {
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	port, err := h.portLocked(addr, func(p int) bool { return h.listeners[p] != nil })
	if err != nil {
		return nil, err
	}
	l := &listener{
		host:   h,
		addr:   Addr{"tcp", h.ip, port},
		accept: make(chan net.Conn),
		closed: make(chan struct{}),
	}
	h.listeners[port] = l
	return l, nil
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.closed:
		return nil, fmt.Errorf("accept %s: %w", l.addr, ErrClosed)
	}
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		h := l.host
		h.net.mu.Lock()
		if h.listeners[l.addr.Port] == l {
			delete(h.listeners, l.addr.Port)
		}
		h.net.mu.Unlock()
	})
	return nil
}

func (l *listener) Addr() net.Addr { return l.addr }

// Dial opens a stream to addr. A dial into a cut or to a paused host
// waits (a SYN retransmitted) until the fault ends or ctx does; a dial
// to a port nobody listens on, or to a crashed host, is refused at once.
func (h *Host) Dial(ctx context.Context, addr string) (net.Conn, error) {
	dst, port, err := h.lookup(addr)
	if err != nil {
		return nil, err
	}
	if !h.net.awaitFlow(h, dst, ctx.Done()) {
		return nil, fmt.Errorf("dial %s: %w", addr, ctx.Err())
	}
	// One round trip for the handshake.
	if err := sleep(ctx, 2*h.net.delay()); err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	h.net.mu.Lock()
	l := dst.listeners[port]
	down := h.down || dst.down
	h.nextEphemeral++
	local := Addr{"tcp", h.ip, 40000 + h.nextEphemeral%20000}
	h.net.mu.Unlock()
	if l == nil || down {
		return nil, fmt.Errorf("dial %s: %w", addr, ErrRefused)
	}
	p := newPipe(h, dst, local, l.addr)
	select {
	case l.accept <- p.server:
		return p.client, nil
	case <-l.closed:
	case <-ctx.Done():
	}
	p.reset()
	return nil, fmt.Errorf("dial %s: %w", addr, ErrRefused)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pipe is one stream: the two ends its users hold (net.Pipe halves, for
// their deadlines and close semantics) and, between them, a relay each
// way that applies the network's delay and holds data across faults.
type pipe struct {
	a, b           *Host
	client, server net.Conn
	// The relays' own halves of the two net.Pipes.
	clientRelay, serverRelay net.Conn
	done                     chan struct{}
	resetOnce                sync.Once
}

func newPipe(a, b *Host, aAddr, bAddr Addr) *pipe {
	c, cr := net.Pipe()
	s, sr := net.Pipe()
	p := &pipe{
		a: a, b: b,
		client: addrConn{c, aAddr, bAddr}, server: addrConn{s, bAddr, aAddr},
		clientRelay: cr, serverRelay: sr,
		done: make(chan struct{}),
	}
	a.net.mu.Lock()
	a.conns[p] = struct{}{}
	b.conns[p] = struct{}{}
	a.net.mu.Unlock()
	go p.relay(a, b, cr, sr)
	go p.relay(b, a, sr, cr)
	return p
}

// reset closes both ends at once (a crash, a refused accept).
func (p *pipe) reset() {
	p.resetOnce.Do(func() {
		close(p.done)
		p.client.Close()
		p.server.Close()
		p.clientRelay.Close()
		p.serverRelay.Close()
		n := p.a.net
		n.mu.Lock()
		delete(p.a.conns, p)
		delete(p.b.conns, p)
		n.mu.Unlock()
	})
}

// chunk is one write's bytes, or the end of the stream (data nil).
type chunk struct {
	data []byte
	due  time.Time
}

// relay carries what from writes into src to dst, for to to read: a
// reader that stamps each chunk with its delivery time and a writer that
// delivers in order once it is due and the network lets it through. The
// end of the stream travels the same way, so a close arrives after the
// data sent before it.
func (p *pipe) relay(from, to *Host, src, dst net.Conn) {
	q := make(chan chunk, 256)
	go func() {
		defer close(q)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				c := chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(from.net.streamDelay())}
				select {
				case q <- c:
				case <-p.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if !from.net.awaitFlow(from, to, p.done) {
			return
		}
		if d := time.Until(c.due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-p.done:
				t.Stop()
				return
			}
		}
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	// The writer closed its end (or the reader went): pass the close on.
	// Closing the relay's half of the other pipe ends both directions,
	// as a FIN followed by the peer's close would.
	p.reset()
}

// addrConn gives a net.Pipe half the addresses of a real connection.
type addrConn struct {
	net.Conn
	local, remote Addr
}

func (c addrConn) LocalAddr() net.Addr  { return c.local }
func (c addrConn) RemoteAddr() net.Addr { return c.remote }
