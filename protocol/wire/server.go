package wire

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Handler serves requests. Handle is called concurrently, from several
// goroutines per connection.
//
// payload is valid only until Handle returns; copy what must outlive it.
// The handler appends its response payload to dst, an empty slice with
// reusable capacity placed so that the server sends it without a copy, and
// returns the response type and the extended slice (any other slice also
// works, at the cost of a copy). A returned error is sent to the caller as a
// *RemoteError: its Code if it is one, else its message with Code 0.
//
// ctx is cancelled when the connection fails or the server is closed; it
// carries the peer address (see PeerAddr). It has no per-request deadline.
type Handler interface {
	Handle(ctx context.Context, t MsgType, payload, dst []byte) (MsgType, []byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, t MsgType, payload, dst []byte) (MsgType, []byte, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, t MsgType, payload, dst []byte) (MsgType, []byte, error) {
	return f(ctx, t, payload, dst)
}

type peerAddrKey struct{}

// PeerAddr returns the remote address of the connection a handler's request
// arrived on, or nil.
func PeerAddr(ctx context.Context) net.Addr {
	a, _ := ctx.Value(peerAddrKey{}).(net.Addr)
	return a
}

// Server accepts connections and serves their requests with a Handler.
type Server struct {
	handler Handler
	opts    ServerOptions
	ctx     context.Context // cancelled by Close: aborts handlers
	cancel  context.CancelFunc
	stats   serverCounters
	mu      struct {
		sync.Mutex
		listeners map[net.Listener]struct{}
		conns     map[*serverConn]struct{}
		closed    bool // by Shutdown or Close
	}
}

// NewServer returns a Server that passes requests to h.
func NewServer(h Handler, opts ServerOptions) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{handler: h, opts: opts}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*serverConn]struct{})
	return s, nil
}

// Serve accepts connections on l and serves each in its own goroutines
// until Shutdown or Close, when it returns ErrServerClosed. Temporary
// accept errors (such as running out of file descriptors) are retried with
// backoff; any other accept error is returned.
func (s *Server) Serve(l net.Listener) error {
	if !s.trackListener(l, true) {
		_ = l.Close()
		return ErrServerClosed
	}
	defer s.trackListener(l, false)
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if !errors.As(err, &te) || !te.Temporary() {
				return err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
			}
			continue
		}
		backoff = 0
		go func() { _ = s.ServeConn(nc) }()
	}
}

// ServeConn serves one connection until it ends and closes it. It returns
// nil when the client closed the connection, ErrServerClosed when the server
// shut down, and otherwise the protocol or I/O error that ended it.
func (s *Server) ServeConn(nc net.Conn) error {
	sc := newServerConn(s, nc)
	if !s.trackConn(sc, true) {
		_ = nc.Close()
		return ErrServerClosed
	}
	defer s.trackConn(sc, false)
	s.stats.conns.Add(1)
	return sc.serve()
}

// Shutdown stops the server gracefully: it closes the listeners, stops
// reading new requests, waits for the requests being handled to finish and
// their responses to be written, then closes the connections. Requests not
// yet read get no response; their callers see the connection close. If ctx
// ends first, Shutdown closes everything as Close does and returns ctx's
// error.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.stop()
	for _, sc := range conns {
		sc.drain()
	}
	for _, sc := range conns {
		select {
		case <-sc.done:
		case <-ctx.Done():
			_ = s.Close()
			return ctx.Err()
		}
	}
	return nil
}

// Close stops the server at once: it closes the listeners and connections
// and cancels the handlers' context. Responses not yet written are lost.
func (s *Server) Close() error {
	conns := s.stop()
	for _, sc := range conns {
		_ = sc.nc.Close()
	}
	s.cancel()
	return nil
}

// stop marks the server closed, closes its listeners and returns its
// connections.
func (s *Server) stop() []*serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.closed = true
	for l := range s.mu.listeners {
		_ = l.Close()
	}
	conns := make([]*serverConn, 0, len(s.mu.conns))
	for sc := range s.mu.conns {
		conns = append(conns, sc)
	}
	return conns
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// trackListener adds or removes l; adding fails once the server is closed.
func (s *Server) trackListener(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.mu.listeners, l)
		return true
	}
	if s.mu.closed {
		return false
	}
	s.mu.listeners[l] = struct{}{}
	return true
}

// trackConn adds or removes sc; adding fails once the server is closed.
func (s *Server) trackConn(sc *serverConn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.mu.conns, sc)
		return true
	}
	if s.mu.closed {
		return false
	}
	s.mu.conns[sc] = struct{}{}
	return true
}
