package wiretest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// ErrRefused is returned by a Dialer for a peer whose Fault has Refuse set.
// It wraps syscall.ECONNREFUSED, as a real refused dial does.
var ErrRefused = fmt.Errorf("wiretest: connection refused: %w", syscall.ECONNREFUSED)

// Fault is what happens to traffic to and from one address. The zero Fault
// is a healthy network. Changes apply at once, to open connections too.
type Fault struct {
	// Refuse makes new dials fail at once with ErrRefused, and makes a
	// wrapped listener reset the connections it accepts: a crashed peer's
	// closed port. Open connections are untouched (see Network.Reset).
	Refuse bool
	// BlackHole stalls traffic: new dials hang until the fault is lifted or
	// their context ends; on open connections written bytes are held and
	// received bytes are not delivered (reads honour their deadlines). Once
	// lifted, held bytes flow, as after a healed partition.
	BlackHole bool
	// Delay holds each outgoing write (and each dial) back by this long;
	// order is kept.
	Delay time.Duration
	// DropRate is the probability that an outgoing wire frame is lost.
	DropRate float64
	// Drop, if set, loses every outgoing wire frame for which it returns
	// true (for example, all responses of one type). It must not call the
	// Network.
	Drop func(h wire.Header) bool
}

func (f Fault) healthy() bool {
	return !f.Refuse && !f.BlackHole && f.Delay == 0 && f.DropRate == 0 && f.Drop == nil
}

// Network holds the faults of a set of addresses and the connections they
// apply to. It is safe for concurrent use.
type Network struct {
	mu      sync.Mutex
	faults  map[string]Fault
	conns   map[*Conn]struct{}
	changed chan struct{} // closed and replaced on every fault change
	rng     *rand.Rand
	dropped atomic.Uint64
	// sent and received count the bytes written to and read from its
	// connections (Traffic).
	sent, received atomic.Uint64
}

// Traffic returns the bytes written to and read from the Network's
// connections so far: what a node sent and received, measured.
func (n *Network) Traffic() (sent, received uint64) { return n.sent.Load(), n.received.Load() }

// NewNetwork returns a healthy Network whose random drops follow seed.
func NewNetwork(seed uint64) *Network {
	return &Network{
		faults:  make(map[string]Fault),
		conns:   make(map[*Conn]struct{}),
		changed: make(chan struct{}),
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Set replaces the fault of addr.
func (n *Network) Set(addr string, f Fault) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if f.healthy() {
		delete(n.faults, addr)
	} else {
		n.faults[addr] = f
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

// Heal removes the fault of addr.
func (n *Network) Heal(addr string) { n.Set(addr, Fault{}) }

// Fault returns the current fault of addr.
func (n *Network) Fault(addr string) Fault {
	f, _ := n.state(addr)
	return f
}

// Dropped returns the number of frames dropped so far.
func (n *Network) Dropped() uint64 { return n.dropped.Load() }

// Reset aborts every open connection to or from addr, with a TCP reset
// where possible, as a crash of that peer would, and returns how many it
// aborted.
func (n *Network) Reset(addr string) int {
	n.mu.Lock()
	var victims []*Conn
	for c := range n.conns {
		if c.addr == addr {
			victims = append(victims, c)
		}
	}
	n.mu.Unlock()
	for _, c := range victims {
		c.abort()
	}
	return len(victims)
}

// state returns addr's fault and a channel closed at the next change.
func (n *Network) state(addr string) (Fault, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.faults[addr], n.changed
}

// drop decides whether a frame to addr is lost.
func (n *Network) drop(addr string, h wire.Header) bool {
	n.mu.Lock()
	f := n.faults[addr]
	r := n.rng.Float64()
	n.mu.Unlock()
	lost := (f.Drop != nil && f.Drop(h)) || r < f.DropRate
	if lost {
		n.dropped.Add(1)
	}
	return lost
}

// Dialer wraps next (wire.TCPDialer() if nil) so that dials obey the
// Network's faults and return connections it controls.
func (n *Network) Dialer(next wire.Dialer) wire.Dialer {
	if next == nil {
		next = wire.TCPDialer()
	}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		if err := n.admitDial(ctx, addr); err != nil {
			return nil, err
		}
		nc, err := next(ctx, addr)
		if err != nil {
			return nil, err
		}
		return n.Wrap(nc, addr), nil
	}
}

// admitDial waits out a black hole and a delay, and applies Refuse.
func (n *Network) admitDial(ctx context.Context, addr string) error {
	for {
		f, changed := n.state(addr)
		switch {
		case f.Refuse:
			return fmt.Errorf("wiretest: dial %s: %w", addr, ErrRefused)
		case f.BlackHole:
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return fmt.Errorf("wiretest: dial %s: %w", addr, ctx.Err())
			}
		case f.Delay > 0:
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("wiretest: dial %s: %w", addr, ctx.Err())
			}
		}
		return nil
	}
}

// Listener wraps l so that the connections it accepts obey the fault of
// l's own address: with the Dialer, a fault on a server's address then acts
// on both directions of its traffic.
func (n *Network) Listener(l net.Listener) net.Listener {
	return &listener{Listener: l, n: n, addr: l.Addr().String()}
}

type listener struct {
	net.Listener
	n    *Network
	addr string
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if f, _ := l.n.state(l.addr); f.Refuse {
			resetConn(nc)
			continue
		}
		return l.n.Wrap(nc, l.addr), nil
	}
}

// Wrap returns a connection whose traffic obeys addr's fault.
func (n *Network) Wrap(nc net.Conn, addr string) *Conn {
	c := newConn(n, nc, addr)
	n.mu.Lock()
	n.conns[c] = struct{}{}
	n.mu.Unlock()
	return c
}

func (n *Network) forget(c *Conn) {
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
}

// resetConn closes nc with a TCP reset where the connection supports it.
func resetConn(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}
