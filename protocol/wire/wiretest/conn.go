package wiretest

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// Conn is a connection whose traffic obeys its Network's fault for addr.
// Writes pass straight through while the network is healthy; under a delay
// or a black hole they are queued and a pump goroutine delivers them in
// order when due.
type Conn struct {
	net.Conn
	n         *Network
	addr      string
	closed    chan struct{}
	closeOnce sync.Once

	wmu     sync.Mutex // guards the write side
	filter  frameFilter
	queue   []packet // held writes, oldest first; the head leaves after it is written
	pumping bool
	werr    error

	rmu      sync.Mutex // serializes reads
	stash    []byte     // bytes read during a black hole, held back
	stashErr error

	dmu          sync.Mutex // guards the read deadline
	readDeadline time.Time
	deadlineSet  chan struct{} // closed and replaced when the read deadline changes
}

type packet struct {
	due  time.Time
	data []byte
}

func newConn(n *Network, nc net.Conn, addr string) *Conn {
	return &Conn{Conn: nc, n: n, addr: addr, closed: make(chan struct{}), deadlineSet: make(chan struct{})}
}

// Addr returns the address whose fault the connection obeys.
func (c *Conn) Addr() string { return c.addr }

// Write sends p, minus the frames the fault drops, now or (under a delay or
// a black hole) later. It reports len(p) written: lost bytes are lost in
// the network, not refused by it.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	if c.isClosed() {
		return 0, net.ErrClosed
	}
	c.n.sent.Add(uint64(len(p)))
	out := c.filter.filter(nil, p, func(h wire.Header) bool { return c.n.drop(c.addr, h) })
	f, _ := c.n.state(c.addr)
	if len(c.queue) == 0 && f.Delay == 0 && !f.BlackHole {
		if len(out) > 0 {
			if _, err := c.Conn.Write(out); err != nil {
				c.werr = err
				return 0, err
			}
		}
		return len(p), nil
	}
	c.queue = append(c.queue, packet{due: time.Now().Add(f.Delay), data: out})
	if !c.pumping {
		c.pumping = true
		go c.pump()
	}
	return len(p), nil
}

// pump delivers queued writes in order, each when due and not black-holed,
// and exits when the queue is empty.
func (c *Conn) pump() {
	for {
		c.wmu.Lock()
		if len(c.queue) == 0 {
			c.pumping = false
			c.wmu.Unlock()
			return
		}
		head := c.queue[0]
		c.wmu.Unlock()
		if !c.waitDeliverable(head.due) {
			return
		}
		_, err := c.Conn.Write(head.data)
		c.wmu.Lock()
		if err != nil {
			c.werr, c.queue, c.pumping = err, nil, false
			c.wmu.Unlock()
			return
		}
		c.queue = c.queue[1:]
		c.wmu.Unlock()
	}
}

// waitDeliverable waits until due has passed and addr is not black-holed.
// It returns false if the connection closes first.
func (c *Conn) waitDeliverable(due time.Time) bool {
	for {
		f, changed := c.n.state(c.addr)
		if f.BlackHole {
			select {
			case <-changed:
				continue
			case <-c.closed:
				return false
			}
		}
		d := time.Until(due)
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-changed:
			t.Stop()
		case <-c.closed:
			t.Stop()
			return false
		}
	}
}

// Read reads from the peer. During a black hole it delivers nothing: it
// waits for the fault to lift, its deadline or Close.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if err := c.waitReadable(); err != nil {
			return 0, err
		}
		if len(c.stash) > 0 {
			n := copy(p, c.stash)
			c.stash = c.stash[n:]
			return n, nil
		}
		if c.stashErr != nil {
			err := c.stashErr
			c.stashErr = nil
			return 0, err
		}
		n, err := c.Conn.Read(p)
		c.n.received.Add(uint64(n))
		if f, _ := c.n.state(c.addr); !f.BlackHole || errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		c.stash = append(c.stash, p[:n]...) // arrived during a black hole: hold it
		c.stashErr = err
	}
}

// waitReadable waits while addr is black-holed, honouring the read deadline.
func (c *Conn) waitReadable() error {
	for {
		f, changed := c.n.state(c.addr)
		if !f.BlackHole {
			return nil
		}
		c.dmu.Lock()
		deadline, deadlineSet := c.readDeadline, c.deadlineSet
		c.dmu.Unlock()
		if err := c.waitChange(changed, deadlineSet, deadline); err != nil {
			return err
		}
	}
}

// waitChange waits for a fault change or a new read deadline; it fails when
// deadline passes or the connection closes.
func (c *Conn) waitChange(changed, deadlineSet <-chan struct{}, deadline time.Time) error {
	var expired <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-changed:
	case <-deadlineSet:
	case <-expired:
		return os.ErrDeadlineExceeded
	case <-c.closed:
		return net.ErrClosed
	}
	return nil
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.setReadDeadline(t)
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline, which also bounds a read stalled
// by a black hole.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.setReadDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *Conn) setReadDeadline(t time.Time) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.readDeadline = t
	close(c.deadlineSet)
	c.deadlineSet = make(chan struct{})
}

// Close closes the connection; held writes are discarded.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.Conn.Close()
		c.n.forget(c)
	})
	return err
}

// abort closes the connection with a TCP reset where possible.
func (c *Conn) abort() {
	c.closeOnce.Do(func() {
		close(c.closed)
		resetConn(c.Conn)
		c.n.forget(c)
	})
}

func (c *Conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}
