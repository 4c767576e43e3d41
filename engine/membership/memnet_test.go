package membership

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// memNet is an in-memory network for memberlist: no sockets, no ports.
// memberlist.MockNetwork is not used because a stopped MockTransport keeps
// accepting deliveries on unbuffered channels that nobody reads any more
// (every sender to a killed node then blocks forever) and its maps are
// unguarded (adding a node while others run is a data race). Here packets
// to a closed or unknown address are dropped like UDP, dials to one are
// refused like TCP, and links can be cut.
type memNet struct {
	mu    sync.Mutex
	port  int
	nodes map[string]*memTransport // by address
	cut   map[[2]string]bool       // severed links, both directions
	muted map[[2]string]bool       // from→to links that lose every packet but carry streams
}

func newMemNet() *memNet {
	return &memNet{nodes: map[string]*memTransport{}, cut: map[[2]string]bool{}, muted: map[[2]string]bool{}}
}

// transport returns a transport at addr, or at a fresh address if addr is
// "". Reusing the address of a closed transport is a restart in place.
func (n *memNet) transport(addr string) *memTransport {
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr == "" {
		n.port++
		addr = fmt.Sprintf("127.0.0.1:%d", n.port)
	}
	t := &memTransport{
		net:     n,
		addr:    addr,
		packets: make(chan *memberlist.Packet, 1024),
		streams: make(chan net.Conn, 64),
		closed:  make(chan struct{}),
	}
	n.nodes[addr] = t
	return t
}

// partition cuts (or, with cut false, heals) every link between the
// addresses of a and those of b.
func (n *memNet) partition(a, b []string, cut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			n.cut[[2]string{x, y}], n.cut[[2]string{y, x}] = cut, cut
		}
	}
}

// mute makes every packet from one address to another lost, while streams
// (push/pull, reliable sends, TCP probes) still pass: gossip that never
// arrives one way, as UDP dropped by a firewall that lets TCP through.
func (n *memNet) mute(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.muted[[2]string{from, to}] = true
}

func (n *memNet) route(from, to string) *memTransport {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut[[2]string{from, to}] {
		return nil
	}
	return n.nodes[to]
}

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

type memTransport struct {
	net       *memNet
	addr      string
	packets   chan *memberlist.Packet
	streams   chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

var _ memberlist.Transport = (*memTransport)(nil)

func (t *memTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	host, port, err := splitHostPort(t.addr)
	if err != nil {
		return nil, 0, err
	}
	return net.ParseIP(host), port, nil
}

func (t *memTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	now := time.Now()
	dest := t.net.route(t.addr, addr)
	t.net.mu.Lock()
	muted := t.net.muted[[2]string{t.addr, addr}]
	t.net.mu.Unlock()
	if dest == nil || muted {
		return now, nil // lost, as UDP would
	}
	p := &memberlist.Packet{Buf: bytes.Clone(b), From: memAddr(t.addr), Timestamp: now}
	select {
	case <-dest.closed:
	case dest.packets <- p:
	default: // receiver overrun: dropped
	}
	return now, nil
}

func (t *memTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *memTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	dest := t.net.route(t.addr, addr)
	if dest == nil {
		return nil, fmt.Errorf("dial %s: %w", addr, errRefused)
	}
	select {
	case <-dest.closed:
		return nil, fmt.Errorf("dial %s: %w", addr, errRefused)
	default:
	}
	mine, theirs := net.Pipe()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case dest.streams <- theirs:
		return mine, nil
	case <-dest.closed:
	case <-t.closed:
	case <-timer.C:
	}
	mine.Close()
	theirs.Close()
	return nil, fmt.Errorf("dial %s: %w", addr, errRefused)
}

var errRefused = errors.New("connection refused")

func (t *memTransport) StreamCh() <-chan net.Conn { return t.streams }

func (t *memTransport) Shutdown() error {
	t.closeOnce.Do(func() {
		close(t.closed)
		t.net.mu.Lock()
		if t.net.nodes[t.addr] == t {
			delete(t.net.nodes, t.addr)
		}
		t.net.mu.Unlock()
	})
	return nil
}
