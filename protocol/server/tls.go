package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/memcache"
)

// TLS. gnet's event loops speak plain TCP only, so with Options.TLS set
// the port speaks TLS alone (as memcached's -Z makes its ports) and each
// connection is served by a goroutine of its own over crypto/tls: it
// reads what the client sent, runs every complete command through the
// same Parser and Executor as the event loops, and writes their replies
// with one write. The limits are the same: MaxConns (the refusal is sent
// once the handshake is done, so the client can read it), IdleTimeout,
// the input cap, Shutdown's drain.

// handshakeTimeout bounds a TLS handshake: a client that opens a socket
// and sends nothing, or half a ClientHello, holds a goroutine no longer.
// A variable for tests.
var handshakeTimeout = 10 * time.Second

// tlsConns is the TLS listener and the connections it serves.
type tlsConns struct {
	sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// serveTLS accepts and serves TLS connections until Shutdown closes the
// listener, then waits for the connections to end.
func (s *Server) serveTLS() error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return err
	}
	s.tls.Lock()
	s.tls.ln = ln
	s.tls.conns = map[net.Conn]struct{}{}
	s.tls.Unlock()
	s.addr.Store(ln.Addr().(*net.TCPAddr))
	close(s.ready)
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.draining.Load() || errors.Is(err, net.ErrClosed) {
				s.tls.wg.Wait()
				return nil
			}
			// Out of file descriptors and the like: back off, as
			// net/http's server does, rather than spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !s.trackTLS(c) {
			_ = c.Close()
			continue
		}
		go s.serveTLSConn(c)
	}
}

// trackTLS registers a connection so Shutdown can close it; false once
// draining.
func (s *Server) trackTLS(c net.Conn) bool {
	s.tls.Lock()
	defer s.tls.Unlock()
	if s.draining.Load() {
		return false
	}
	s.tls.conns[c] = struct{}{}
	s.tls.wg.Add(1)
	return true
}

func (s *Server) untrackTLS(c net.Conn) {
	s.tls.Lock()
	delete(s.tls.conns, c)
	s.tls.Unlock()
	s.tls.wg.Done()
}

// shutdownTLS closes the listener, waits for the batches in flight, then
// closes every connection (a blocked read returns) and waits for Serve.
func (s *Server) shutdownTLS(ctx context.Context) error {
	s.tls.Lock()
	if s.tls.ln != nil {
		_ = s.tls.ln.Close()
	}
	s.tls.Unlock()
	waitErr := s.awaitInflight(ctx)
	s.tls.Lock()
	for c := range s.tls.conns {
		_ = c.Close()
	}
	s.tls.Unlock()
	<-s.stopped
	return waitErr
}

// tlsSink sends a multi-key reply's parts as they are built.
type tlsSink struct {
	s   *Server
	c   net.Conn
	err error
}

func (k *tlsSink) Spill(reply []byte) []byte {
	if k.err == nil {
		var n int
		n, k.err = k.c.Write(reply)
		k.s.bytesWritten.Add(uint64(n))
	}
	return reply[:0] // written: the buffer is free again
}

// serveTLSConn serves one connection: handshake, then read, run, reply
// until the client quits, errs, idles out or the server drains.
func (s *Server) serveTLSConn(raw net.Conn) {
	defer s.untrackTLS(raw)
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := tls.Server(raw, s.opts.TLS)
	defer c.Close() // with close_notify once the handshake is done
	_ = raw.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := c.Handshake(); err != nil {
		s.tlsHandshakeErrors.Add(1)
		return
	}
	_ = raw.SetDeadline(time.Time{})
	if s.curr.Add(1) > int64(s.opts.MaxConns) {
		s.curr.Add(-1)
		s.rejected.Add(1)
		_ = raw.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte(tooManyConns))
		return
	}
	defer s.curr.Add(-1)
	s.total.Add(1)

	// The event loops' own parsing and execution (parseBatch, execute),
	// on a batch this goroutine keeps: one connection, one batch at a time.
	st := &conn{}
	st.parser.Reset(s.opts.MaxItemSize)
	sink := &tlsSink{s: s, c: c}
	sess := &memcache.Session{Sink: sink, Fanout: s.blockingFanout}
	b := s.newBatch().(*batch)
	buf := make([]byte, 0, 16<<10)
	for {
		b.authed = s.authGate(&st.authed)
		s.parseBatch(st, buf, b)
		if b.consumed > 0 {
			s.bytesRead.Add(uint64(b.consumed))
			s.inflight.Add(1)
			b.out = s.execute(sess, b, true) // may run fewer commands than parsed: see execute
			if sink.err == nil && len(b.out) > 0 {
				var n int
				n, sink.err = c.Write(b.out)
				s.bytesWritten.Add(uint64(n))
			}
			s.inflight.Add(-1)
			st.parser.Restore(b.resume)
			if cap(b.out) > 4<<20 {
				b.out = nil // a huge reply's buffer goes
			}
		}
		if sink.err != nil || b.close || s.draining.Load() {
			return
		}
		consumed := b.consumed
		// The commands are done with the input they pointed into.
		buf = buf[:copy(buf, buf[consumed:])]
		if consumed > 0 {
			continue // parse what is left before reading more
		}
		if len(buf) > s.maxPendingInput {
			return
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		if s.opts.IdleTimeout > 0 {
			_ = raw.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.idleKicks.Add(1)
			}
			return
		}
	}
}
