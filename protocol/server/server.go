package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
)

// Server is a memcached-compatible TCP server over an kv.KV.
type Server struct {
	opts Options
	exec *memcache.Executor

	ready   chan struct{} // closed once listening, or once Serve failed
	stopped chan struct{} // closed when Serve returns
	workers *workers
	cached  kv.CachedReader // nil unless the KV can answer some reads without blocking
	// The Session.Fanout of a goroutine that may block (a worker, a TLS
	// connection's): fanout with Options.ConcurrentBatches, else nil.
	// Never an event loop's: waiting there for workers stalls the loop.
	blockingFanout func(int, func(int))
	addr           atomic.Pointer[net.TCPAddr]
	eng            gnet.Engine // set in OnBoot, before ready is closed

	maxPendingInput int // see maxPendingOutput

	draining atomic.Bool
	inflight atomic.Int64 // batches handed to workers and not yet written

	curr, total, rejected   atomic.Int64
	bytesRead, bytesWritten atomic.Uint64
	idleKicks               atomic.Uint64
	tlsHandshakeErrors      atomic.Uint64
	tls                     tlsConns // with Options.TLS: the listener and its connections
	sessions, batches       sync.Pool
	conns                   struct {
		sync.Mutex
		m map[*conn]gnet.Conn
	}
}

// New returns a server over db; call Serve to run it.
func New(db kv.KV, opts Options) (*Server, error) {
	if db == nil {
		return nil, errors.Join(ErrBadOptions, errors.New("nil engine"))
	}
	opts.ensureDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, ready: make(chan struct{}), stopped: make(chan struct{}), workers: newWorkers(10 * time.Second)}
	s.maxPendingInput = max(minPendingInput, 4*opts.MaxItemSize)
	s.exec = memcache.NewExecutor(db, memcache.Options{
		Version: opts.Version, Now: opts.Now, MaxItemSize: opts.MaxItemSize, Server: s, Latency: opts.Latency, Auth: opts.Auth,
	})
	s.cached, _ = db.(kv.CachedReader)
	if opts.ConcurrentBatches {
		s.blockingFanout = s.fanout
	}
	s.sessions.New = func() any { return new(memcache.Session) }
	s.batches.New = s.newBatch
	s.conns.m = make(map[*conn]gnet.Conn)
	return s, nil
}

// Serve listens and serves until Shutdown; it returns nil after a clean
// shutdown.
func (s *Server) Serve() error {
	defer close(s.stopped)
	if s.opts.TLS != nil {
		err := s.serveTLS()
		select {
		case <-s.ready:
		default:
			close(s.ready) // failed before listening
		}
		return err
	}
	if s.opts.IdleTimeout > 0 {
		go s.reapIdle()
	}
	err := gnet.Run(&handler{s: s}, "tcp://"+s.opts.Listen,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.opts.EventLoops),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(quietLogger{}),
	)
	select {
	case <-s.ready:
	default:
		close(s.ready) // failed before listening
	}
	return err
}

// Ready is closed once the server listens (Addr is then valid) or Serve
// has failed.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address the server listens on, nil before Ready.
func (s *Server) Addr() net.Addr {
	if a := s.addr.Load(); a != nil {
		return a
	}
	return nil
}

// Shutdown stops taking commands, waits for the batches in flight to write
// their replies, and stops the event loops. It returns ErrShutdownCtx if ctx
// ends first (the loops are stopped anyway).
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	select {
	case <-s.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.Addr() == nil {
		return ErrNotServing
	}
	if s.opts.TLS != nil {
		defer s.workers.close()
		return s.shutdownTLS(ctx)
	}
	waitErr := s.awaitInflight(ctx)
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.eng.Stop(stopCtx); err != nil {
		return errors.Join(waitErr, err)
	}
	<-s.stopped
	s.workers.close()
	return waitErr
}

// awaitInflight waits for the batches in flight to write their replies,
// or returns ErrShutdownCtx when ctx ends first.
func (s *Server) awaitInflight(ctx context.Context) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for s.inflight.Load() > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ErrShutdownCtx
		}
	}
	return nil
}

// Stats is what "stats" answers, a line each: for a metrics exporter.
func (s *Server) Stats() []kv.Stat { return s.exec.Stats() }

// ServerStats implements memcache.ServerInfo.
func (s *Server) ServerStats() memcache.ServerStats {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	curr := s.curr.Load()
	return memcache.ServerStats{
		PID:                  os.Getpid(),
		PointerSize:          strconv.IntSize,
		RusageUser:           time.Duration(ru.Utime.Nano()),
		RusageSystem:         time.Duration(ru.Stime.Nano()),
		MaxConnections:       int64(s.opts.MaxConns),
		CurrConnections:      curr,
		TotalConnections:     s.total.Load(),
		RejectedConnections:  s.rejected.Load(),
		ConnectionStructures: curr,
		IdleTimeout:          s.opts.IdleTimeout > 0,
		IdleKicks:            s.idleKicks.Load(),
		BytesRead:            s.bytesRead.Load(),
		BytesWritten:         s.bytesWritten.Load(),
		Threads:              s.opts.EventLoops,
		AcceptingConns:       !s.draining.Load(),
		TLS:                  s.opts.TLS != nil,
		TLSVerifyClients:     s.opts.TLS != nil && s.opts.TLS.ClientAuth == tls.RequireAndVerifyClientCert,
		TLSHandshakeErrors:   s.tlsHandshakeErrors.Load(),
	}
}

// reapIdle closes connections idle longer than IdleTimeout.
func (s *Server) reapIdle() {
	every := min(max(s.opts.IdleTimeout/4, 10*time.Millisecond), time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stopped:
			return
		case <-tick.C:
		}
		deadline := s.opts.Now().Add(-s.opts.IdleTimeout).UnixNano()
		s.conns.Lock()
		for st, c := range s.conns.m {
			if !st.inflight.Load() && st.lastActive.Load() < deadline {
				delete(s.conns.m, st)
				s.idleKicks.Add(1)
				_ = c.Close()
			}
		}
		s.conns.Unlock()
	}
}

// boot records the engine and the real listening address.
func (s *Server) boot(eng gnet.Engine) {
	s.eng = eng
	if fd, err := eng.Dup(); err == nil {
		if sa, err := syscall.Getsockname(fd); err == nil {
			s.addr.Store(sockaddrTCP(sa))
		}
		_ = syscall.Close(fd)
	}
	close(s.ready)
}

func sockaddrTCP(sa syscall.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
