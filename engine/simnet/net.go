package simnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// Errors a dial returns, wrapped with the address.
var (
	ErrRefused     = errors.New("connection refused")
	ErrUnreachable = errors.New("no route to host")
	ErrClosed      = errors.New("use of closed network connection")
)

// Network is a set of hosts and the faults between them. Its methods are
// safe for concurrent use.
type Network struct {
	mu    sync.Mutex
	rng   *rand.Rand
	hosts map[string]*Host // by IP
	// cut counts the cuts of each directed (from IP, to IP) pair: it
	// delivers nothing while any is in place, so two faults that overlap
	// (a partition, and a node cut off while it is removed) each undo only
	// their own.
	cut     map[[2]string]int
	changed chan struct{}    // closed and replaced on every fault change
	latency [2]time.Duration // one-way delay: min, max
	loss    float64          // datagrams dropped
	dup     float64          // datagrams delivered twice
	stall   float64          // stream writes held back
	stallBy time.Duration    // by at most this
}

// New returns an empty network whose random choices (delays, losses)
// come from seed.
func New(seed uint64) *Network {
	return &Network{
		rng:     rand.New(rand.NewPCG(seed, 0x51e7)),
		hosts:   map[string]*Host{},
		cut:     map[[2]string]int{},
		changed: make(chan struct{}),
	}
}

// Host returns the host at ip, creating it on first use.
func (n *Network) Host(ip string) *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.hosts[ip]
	if h == nil {
		h = &Host{net: n, ip: ip, listeners: map[int]*listener{}, conns: map[*pipe]struct{}{}}
		n.hosts[ip] = h
	}
	return h
}

// SetLatency makes every delivery take between lo and hi.
func (n *Network) SetLatency(lo, hi time.Duration) {
	n.mu.Lock()
	n.latency = [2]time.Duration{lo, max(lo, hi)}
	n.mu.Unlock()
}

// SetDatagramFaults sets the fractions of datagrams lost and duplicated.
func (n *Network) SetDatagramFaults(loss, dup float64) {
	n.mu.Lock()
	n.loss, n.dup = loss, dup
	n.mu.Unlock()
}

// SetStreamStalls holds back share of stream writes by up to max each,
// as a TCP retransmission does: the stream stays in order, so what was
// written after waits behind the held write, while other connections
// between the same hosts, and datagrams, flow.
func (n *Network) SetStreamStalls(share float64, max time.Duration) {
	n.mu.Lock()
	n.stall, n.stallBy = share, max
	n.mu.Unlock()
}

// Cut stops delivery from every host of from to every host of to; with
// both true, the other way as well.
func (n *Network) Cut(from, to []string, both bool) {
	n.mu.Lock()
	for _, a := range from {
		for _, b := range to {
			if a == b {
				continue
			}
			n.cut[[2]string{a, b}]++
			if both {
				n.cut[[2]string{b, a}]++
			}
		}
	}
	n.broadcastLocked()
	n.mu.Unlock()
}

// Uncut undoes Cut(from, to, both).
func (n *Network) Uncut(from, to []string, both bool) {
	n.mu.Lock()
	for _, a := range from {
		for _, b := range to {
			if a == b {
				continue
			}
			n.uncutLocked(a, b)
			if both {
				n.uncutLocked(b, a)
			}
		}
	}
	n.broadcastLocked()
	n.mu.Unlock()
}

func (n *Network) uncutLocked(a, b string) {
	k := [2]string{a, b}
	if n.cut[k]--; n.cut[k] <= 0 {
		delete(n.cut, k)
	}
}

// Partition cuts every link between hosts of different groups and
// returns what heals exactly those cuts.
func (n *Network) Partition(groups ...[]string) (heal func()) {
	for i := range groups {
		for j := range groups {
			if i != j {
				n.Cut(groups[i], groups[j], false)
			}
		}
	}
	return func() {
		for i := range groups {
			for j := range groups {
				if i != j {
					n.Uncut(groups[i], groups[j], false)
				}
			}
		}
	}
}

// Heal removes every cut and resumes every paused host.
func (n *Network) Heal() {
	n.mu.Lock()
	clear(n.cut)
	for _, h := range n.hosts {
		h.paused = false
	}
	n.broadcastLocked()
	n.mu.Unlock()
}

func (n *Network) broadcastLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// delay draws one delivery's latency.
func (n *Network) delay() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	lo, hi := n.latency[0], n.latency[1]
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)+1))
}

// streamDelay draws one stream write's delay: the latency and, for a
// share of writes, a stall.
func (n *Network) streamDelay() time.Duration {
	d := n.delay()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stall > 0 && n.rng.Float64() < n.stall {
		d += time.Duration(n.rng.Int64N(int64(n.stallBy) + 1))
	}
	return d
}

// awaitFlow waits until from can deliver to to (no cut between them,
// neither paused); false if done closes first.
func (n *Network) awaitFlow(from, to *Host, done <-chan struct{}) bool {
	for {
		n.mu.Lock()
		blocked, changed := n.cut[[2]string{from.ip, to.ip}] > 0 || from.paused || to.paused, n.changed
		n.mu.Unlock()
		if !blocked {
			return true
		}
		select {
		case <-changed:
		case <-done:
			return false
		}
	}
}

// datagramFate draws whether one datagram from → to is delivered, and
// how many times.
func (n *Network) datagramFate(from, to *Host) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut[[2]string{from.ip, to.ip}] > 0 || from.paused || to.paused || from.down || to.down {
		return 0
	}
	if n.rng.Float64() < n.loss {
		return 0
	}
	if n.rng.Float64() < n.dup {
		return 2
	}
	return 1
}

// Host is one machine of the network.
type Host struct {
	net *Network
	ip  string

	// Guarded by net.mu.
	paused        bool
	down          bool
	nextPort      int // listening ports picked for port 0, from 20000
	nextEphemeral int // local ports of dialled streams, from 40000
	listeners     map[int]*listener
	datagrams     map[int]*Transport
	conns         map[*pipe]struct{}
}

// IP is the host's address.
func (h *Host) IP() string { return h.ip }

// Pause holds everything the host sends and everything sent to it until
// Resume (or Network.Heal): the host looks like a stopped process.
func (h *Host) Pause() { h.setPaused(true) }

// Resume ends a Pause; held data flows again.
func (h *Host) Resume() { h.setPaused(false) }

func (h *Host) setPaused(p bool) {
	h.net.mu.Lock()
	h.paused = p
	h.net.broadcastLocked()
	h.net.mu.Unlock()
}

// Crash closes every connection, listener and datagram endpoint of the
// host, as if its process died; Restart lets it listen again.
func (h *Host) Crash() {
	h.net.mu.Lock()
	h.down = true
	ls := make([]*listener, 0, len(h.listeners))
	for _, l := range h.listeners {
		ls = append(ls, l)
	}
	ts := make([]*Transport, 0, len(h.datagrams))
	for _, t := range h.datagrams {
		ts = append(ts, t)
	}
	ps := make([]*pipe, 0, len(h.conns))
	for p := range h.conns {
		ps = append(ps, p)
	}
	h.net.broadcastLocked()
	h.net.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, t := range ts {
		t.Shutdown()
	}
	for _, p := range ps {
		p.reset()
	}
}

// Restart brings a crashed host back, with nothing listening.
func (h *Host) Restart() {
	h.net.mu.Lock()
	h.down = false
	h.net.broadcastLocked()
	h.net.mu.Unlock()
}

// port resolves addr (HOST:PORT, the host's own IP or empty) to a port of
// this host, picking a free one for port 0. Called with net.mu held.
func (h *Host) portLocked(addr string, taken func(int) bool) (int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	if host != "" && host != h.ip && host != "0.0.0.0" {
		return 0, fmt.Errorf("listen %s: address not on host %s", addr, h.ip)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("listen %s: bad port", addr)
	}
	if port == 0 {
		for port = 20000 + h.nextPort; taken(port); port++ {
		}
		h.nextPort = port - 20000 + 1
	}
	if taken(port) {
		return 0, fmt.Errorf("listen %s: address already in use", addr)
	}
	if h.down {
		return 0, fmt.Errorf("listen %s: host is down", addr)
	}
	return port, nil
}

func (h *Host) lookup(addr string) (*Host, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return nil, 0, fmt.Errorf("dial %s: bad port", addr)
	}
	h.net.mu.Lock()
	dst := h.net.hosts[host]
	h.net.mu.Unlock()
	if dst == nil {
		return nil, 0, fmt.Errorf("dial %s: %w", addr, ErrUnreachable)
	}
	return dst, port, nil
}

// Addr is a simnet address.
type Addr struct {
	Proto string // "tcp" or "udp"
	IP    string
	Port  int
}

func (a Addr) Network() string { return a.Proto }
func (a Addr) String() string  { return net.JoinHostPort(a.IP, strconv.Itoa(a.Port)) }
