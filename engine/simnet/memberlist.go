package simnet

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Transport is memberlist's network on one host and port: datagrams for
// its UDP, a stream listener for its TCP.
type Transport struct {
	host      *Host
	addr      Addr
	packets   chan *memberlist.Packet
	streams   chan net.Conn
	l         net.Listener
	closed    chan struct{}
	closeOnce sync.Once
}

var _ memberlist.Transport = (*Transport)(nil)

// Memberlist opens memberlist's endpoint on addr (HOST:PORT; port 0
// picks one free for both datagrams and streams).
func (h *Host) Memberlist(addr string) (*Transport, error) {
	h.net.mu.Lock()
	port, err := h.portLocked(addr, func(p int) bool { return h.listeners[p] != nil || h.datagrams[p] != nil })
	h.net.mu.Unlock()
	if err != nil {
		return nil, err
	}
	l, err := h.Listen(net.JoinHostPort(h.ip, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	t := &Transport{
		host:    h,
		addr:    Addr{"udp", h.ip, port},
		packets: make(chan *memberlist.Packet, 1024),
		streams: make(chan net.Conn),
		l:       l,
		closed:  make(chan struct{}),
	}
	h.net.mu.Lock()
	if h.datagrams == nil {
		h.datagrams = map[int]*Transport{}
	}
	h.datagrams[port] = t
	h.net.mu.Unlock()
	go t.acceptLoop()
	return t, nil
}

// Addr is the transport's address, for memberlist's bind and advertise
// settings and for other nodes to join.
func (t *Transport) Addr() string { return t.addr.String() }

func (t *Transport) acceptLoop() {
	for {
		c, err := t.l.Accept()
		if err != nil {
			return
		}
		select {
		case t.streams <- c:
		case <-t.closed:
			c.Close()
			return
		}
	}
}

func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return net.ParseIP(t.addr.IP), t.addr.Port, nil
}

// WriteTo sends a datagram: lost into any fault, otherwise delivered
// after the network's delay (or twice, or dropped, as the network's
// datagram faults say). A full receive queue drops it, as a socket
// buffer would.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	now := time.Now()
	select {
	case <-t.closed:
		return now, fmt.Errorf("write to %s: %w", addr, ErrClosed)
	default:
	}
	dst, port, err := t.host.lookup(addr)
	if err != nil {
		return now, nil // lost, as UDP would be
	}
	copies := t.host.net.datagramFate(t.host, dst)
	for range copies {
		p := &memberlist.Packet{Buf: bytes.Clone(b), From: t.addr}
		time.AfterFunc(t.host.net.delay(), func() {
			t.host.net.mu.Lock()
			to := dst.datagrams[port]
			t.host.net.mu.Unlock()
			if to == nil {
				return
			}
			p.Timestamp = time.Now()
			select {
			case to.packets <- p:
			case <-to.closed:
			default:
			}
		})
	}
	return now, nil
}

func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return t.host.Dial(ctx, addr)
}

func (t *Transport) StreamCh() <-chan net.Conn { return t.streams }

func (t *Transport) Shutdown() error {
	t.closeOnce.Do(func() {
		close(t.closed)
		t.l.Close()
		h := t.host
		h.net.mu.Lock()
		if h.datagrams[t.addr.Port] == t {
			delete(h.datagrams, t.addr.Port)
		}
		h.net.mu.Unlock()
	})
	return nil
}
