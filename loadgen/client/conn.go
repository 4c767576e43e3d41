package client

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Errors of Conn, wrapped around the underlying cause.
var (
	// ErrTimeout means no reply byte arrived within Options.Timeout.
	ErrTimeout = errors.New("client: timeout")
	// ErrConn is a connection failure: reset, closed, refused or short write.
	ErrConn = errors.New("client: connection error")
	// ErrWouldBlock is returned, unwrapped, by Fill and Flush on a
	// nonblocking Transport when no byte can move now (syscall.EAGAIN
	// where the platform has it).
	ErrWouldBlock = errWouldBlock
)

// Transport is what a Conn reads replies from and writes requests to: a
// net.Conn, or a nonblocking socket driven by an event loop, whose Read and
// Write return ErrWouldBlock instead of waiting (and whose deadlines the
// loop enforces).
type Transport interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// loopTimed is implemented by transports whose owner enforces timeouts,
// such as an event loop's socket; Conn sets no deadlines on them.
type loopTimed interface{ LoopTimed() }

// Options configure a Conn. Zero fields take the documented defaults.
type Options struct {
	// Timeout bounds how long a blocked read or write may wait without
	// progress before failing with ErrTimeout. Default 5s; negative means
	// never.
	Timeout time.Duration
	// ReadBufferSize is the initial read buffer; it grows to hold the
	// largest reply seen. Default 64 KiB.
	ReadBufferSize int
	// WriteBufferSize is the initial write buffer capacity. Default 16 KiB.
	WriteBufferSize int
	// Epoch is the origin of the timestamps Conn reports. Default: the time
	// NewConn is called. Conns whose timestamps are compared must share it.
	Epoch time.Time
}

func (o *Options) ensureDefaults() {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = 64 << 10
	}
	if o.WriteBufferSize <= 0 {
		o.WriteBufferSize = 16 << 10
	}
	if o.Epoch.IsZero() {
		o.Epoch = time.Now()
	}
}

// Conn is one pipelined memcached connection. Requests accumulate in a
// write buffer until Flush; Next parses replies in order from a read buffer.
//
// The write side (the request methods, Flush) and the read side (Next) may
// each be used by one goroutine at a time, and the two sides concurrently.
// Timestamps are nanoseconds since Options.Epoch.
type Conn struct {
	nc      Transport
	epoch   time.Time
	timeout time.Duration

	deadlines bool // the transport takes deadlines (it is not loopTimed)

	// Read side.
	rbuf         []byte
	rpos, rend   int   // unparsed bytes are rbuf[rpos:rend]
	readAt       int64 // when the read that completed the last reply returned
	readDeadline int64 // when the read deadline was last pushed forward

	// Write side.
	wbuf          []byte
	writeDeadline int64
	flushes       uint64 // flushes that wrote bytes
	flushAt       int64  // when the last of them began
}

// NewConn wraps an established connection.
func NewConn(nc Transport, opts Options) *Conn {
	opts.ensureDefaults()
	_, timed := nc.(loopTimed)
	return &Conn{
		nc: nc, epoch: opts.Epoch, timeout: opts.Timeout, deadlines: !timed,
		rbuf:         make([]byte, opts.ReadBufferSize),
		wbuf:         make([]byte, 0, opts.WriteBufferSize),
		readDeadline: -1 << 62, writeDeadline: -1 << 62,
	}
}

// Close closes the underlying connection; a blocked Next or Flush returns.
func (c *Conn) Close() error { return c.nc.Close() }

// Now returns the current time on the Conn's clock.
func (c *Conn) Now() int64 { return int64(time.Since(c.epoch)) }

// Get queues "get key".
func (c *Conn) Get(key []byte) { c.wbuf = AppendGet(c.wbuf, key) }

// Set queues a set.
func (c *Conn) Set(key []byte, flags uint32, exptime int64, value []byte) {
	c.wbuf = AppendSet(c.wbuf, key, flags, exptime, value)
}

// Delete queues "delete key".
func (c *Conn) Delete(key []byte) { c.wbuf = AppendDelete(c.wbuf, key) }

// Getv queues "getv key".
func (c *Conn) Getv(key []byte) { c.wbuf = AppendGetv(c.wbuf, key) }

// Putv queues a putv carrying context (nil for none).
func (c *Conn) Putv(key []byte, flags uint32, exptime int64, value, context []byte) {
	c.wbuf = AppendPutv(c.wbuf, key, flags, exptime, value, context)
}

// Buffered is the number of queued request bytes not yet flushed.
func (c *Conn) Buffered() int { return len(c.wbuf) }

// Flush writes the queued requests and returns the time it started writing.
// On a nonblocking Transport whose buffer fills, the unwritten rest stays
// queued and Flush returns ErrWouldBlock; call it again when the socket is
// writable.
func (c *Conn) Flush() (int64, error) {
	now := c.Now()
	if len(c.wbuf) == 0 {
		return now, nil
	}
	c.flushes++
	c.flushAt = now
	if c.deadlines {
		if err := c.pushDeadline(now, &c.writeDeadline, c.nc.SetWriteDeadline); err != nil {
			c.wbuf = c.wbuf[:0]
			return now, err
		}
	}
	n, err := c.nc.Write(c.wbuf)
	if err == ErrWouldBlock {
		c.wbuf = c.wbuf[:copy(c.wbuf, c.wbuf[n:])]
		return now, err
	}
	c.wbuf = c.wbuf[:0]
	return now, classify(err)
}

// Next parses the next reply, which must have the given shape, reading from
// the connection as needed. r's slices stay valid until the next call.
func (c *Conn) Next(want Reply, r *Response) error { return c.next(want, r, false) }

// NextFlushing is Next for a caller that drives both sides from one
// goroutine: queued requests are flushed just before it would block for
// more reply bytes, so requests queued while replies were still buffered go
// out together in one write.
func (c *Conn) NextFlushing(want Reply, r *Response) error { return c.next(want, r, true) }

// Flushes returns how many flushes have written bytes and when the last
// one began, so a caller can stamp the requests a NextFlushing sent.
func (c *Conn) Flushes() (count uint64, at int64) { return c.flushes, c.flushAt }

func (c *Conn) next(want Reply, r *Response, flush bool) error {
	for {
		n, err := Parse(c.rbuf[c.rpos:c.rend], want, r)
		if err == nil {
			c.rpos += n
			return nil
		}
		if !errors.Is(err, ErrIncomplete) {
			return err
		}
		if flush && len(c.wbuf) > 0 {
			if _, err := c.Flush(); err != nil {
				return err
			}
		}
		if err := c.fill(); err != nil {
			return err
		}
	}
}

// NextBuffered parses the next reply from bytes already read, without
// reading: it returns ErrIncomplete, unwrapped, when they do not hold a
// whole reply. It is Next for an event loop, which calls Fill once per
// readiness notification.
func (c *Conn) NextBuffered(want Reply, r *Response) error {
	n, err := Parse(c.rbuf[c.rpos:c.rend], want, r)
	if err != nil {
		if errors.Is(err, ErrIncomplete) {
			return ErrIncomplete
		}
		return err
	}
	c.rpos += n
	return nil
}

// Fill reads once into the reply buffer, for an event loop told the
// connection is readable. On a nonblocking Transport with nothing to read
// it returns ErrWouldBlock.
func (c *Conn) Fill() error {
	err := c.fill()
	if err != nil && errors.Is(err, ErrWouldBlock) {
		return ErrWouldBlock
	}
	return err
}

// ReadAt is when the bytes that completed the last reply were received: the
// return of the read that delivered them, not the end of parsing.
func (c *Conn) ReadAt() int64 { return c.readAt }

// Reset discards buffered requests and unparsed replies, for reuse after the
// caller replaced a failed connection with SetConn.
func (c *Conn) Reset() {
	c.wbuf = c.wbuf[:0]
	c.rpos, c.rend = 0, 0
	c.readDeadline, c.writeDeadline = -1<<62, -1<<62
}

// SetConn swaps in a new transport (after a reconnect, or a socket taken
// over by an event loop) and resets the buffers. The caller must hold both
// sides.
func (c *Conn) SetConn(nc Transport) {
	c.nc = nc
	_, timed := nc.(loopTimed)
	c.deadlines = !timed
	c.Reset()
}

// fill reads more bytes, compacting or growing the buffer first.
func (c *Conn) fill() error {
	if c.rpos > 0 && c.rpos == c.rend {
		c.rpos, c.rend = 0, 0
	}
	if c.rend == len(c.rbuf) {
		if c.rpos > 0 {
			c.rend = copy(c.rbuf, c.rbuf[c.rpos:c.rend])
			c.rpos = 0
		} else {
			if len(c.rbuf) >= MaxValueLength*2 {
				return fmt.Errorf("%w: reply larger than %d bytes", ErrProtocol, len(c.rbuf))
			}
			grown := make([]byte, 2*len(c.rbuf))
			c.rend = copy(grown, c.rbuf[:c.rend])
			c.rbuf = grown
		}
	}
	if c.deadlines && c.timeout >= 0 {
		if err := c.pushDeadline(c.Now(), &c.readDeadline, c.nc.SetReadDeadline); err != nil {
			return err
		}
	}
	n, err := c.nc.Read(c.rbuf[c.rend:])
	c.readAt = c.Now()
	c.rend += n
	if n > 0 {
		return nil // a short read with an error is retried; the error recurs
	}
	if err == nil {
		return fmt.Errorf("%w: empty read", ErrConn)
	}
	if err == ErrWouldBlock {
		return err // not wrapped: an event loop sees this on every spurious wake-up
	}
	return classify(err)
}

// pushDeadline keeps a deadline Timeout ahead of now, but moves it only
// when an eighth of Timeout has passed since the last move: setting a
// deadline costs a timer update, and the slack only shortens the effective
// timeout to between 7/8 and all of Timeout.
func (c *Conn) pushDeadline(now int64, last *int64, set func(time.Time) error) error {
	if c.timeout < 0 || now-*last < int64(c.timeout/8) {
		return nil
	}
	*last = now
	return classify(set(c.epoch.Add(time.Duration(now) + c.timeout)))
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrConn, err)
}

// Transport returns the transport the Conn reads and writes.
func (c *Conn) Transport() Transport { return c.nc }
