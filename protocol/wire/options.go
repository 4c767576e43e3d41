package wire

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Dialer opens a connection to addr. Tests substitute a fault-injecting one
// (see package wiretest).
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// TCPDialer returns the default Dialer: plain TCP with Nagle off (Go's
// default) and TCP keepalives every 15 s.
func TCPDialer() Dialer {
	d := &net.Dialer{KeepAlive: 15 * time.Second}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
}

// Options configures a Pool. The zero value of every field means "use the
// default"; EnsureDefaults fills them in one place.
type Options struct {
	// Dial opens connections. The default is TCPDialer().
	Dial Dialer
	// ConnsPerPeer is the number of connections kept to each peer; calls are
	// spread over them round-robin and multiplexed on each. The default is 2:
	// one connection rarely limits throughput, and a second keeps one large
	// frame from delaying every small one behind it.
	ConnsPerPeer int
	// MaxPayload is the largest payload sent or accepted. The default is
	// DefaultMaxPayload (8 MiB); the limit is MaxPayloadLimit.
	MaxPayload int
	// DialTimeout bounds one connection attempt. The default is 1 s.
	DialTimeout time.Duration
	// DefaultTimeout bounds calls whose context has no deadline. Callers
	// should set their own deadline; this is the backstop. The default is 5 s.
	DefaultTimeout time.Duration
	// WriteTimeout is how long a connection may fail to accept written bytes
	// before it is declared dead. The default is 5 s.
	WriteTimeout time.Duration
	// RetryMin and RetryMax bound the wait between probes of a suspect peer:
	// the first probe comes RetryMin after the peer was marked suspect, and
	// each failed probe doubles the wait up to RetryMax (±20 % jitter).
	// Defaults: 100 ms and 1 s: with 5 s, a restarted peer went unused
	// for up to 5 s after it was back (Pool.Recover cuts even that short).
	RetryMin, RetryMax time.Duration
	// ProbeTimeout bounds one probe: a dial if needed, then a ping round
	// trip. The default is DialTimeout.
	ProbeTimeout time.Duration
	// OnHealthChange, if set, is called when a peer becomes suspect
	// (healthy=false) and when a probe reaches it again (healthy=true).
	// Calls for one peer come in order. It must not block and must not call
	// back into the Pool.
	OnHealthChange func(addr string, healthy bool)
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Dial == nil {
		o.Dial = TCPDialer()
	}
	if o.ConnsPerPeer == 0 {
		o.ConnsPerPeer = 2
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
	if o.DefaultTimeout == 0 {
		o.DefaultTimeout = 5 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.RetryMin == 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = time.Second
	}
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = o.DialTimeout
	}
}

// Validate rejects options that cannot work. Call it after EnsureDefaults.
func (o *Options) Validate() error {
	switch {
	case o.ConnsPerPeer < 1 || o.ConnsPerPeer > 64:
		return fmt.Errorf("%w: ConnsPerPeer %d not in [1, 64]", ErrInvalidOptions, o.ConnsPerPeer)
	case o.MaxPayload < 1 || o.MaxPayload > MaxPayloadLimit:
		return fmt.Errorf("%w: MaxPayload %d not in [1, %d]", ErrInvalidOptions, o.MaxPayload, MaxPayloadLimit)
	case o.DialTimeout < 0 || o.DefaultTimeout < 0 || o.WriteTimeout < 0 || o.ProbeTimeout < 0:
		return fmt.Errorf("%w: negative timeout", ErrInvalidOptions)
	case o.RetryMin < 0 || o.RetryMax < o.RetryMin:
		return fmt.Errorf("%w: RetryMin %v, RetryMax %v", ErrInvalidOptions, o.RetryMin, o.RetryMax)
	}
	return nil
}

// ServerOptions configures a Server. The zero value of every field except
// Types means "use the default".
type ServerOptions struct {
	// Types is the set of request types the handler serves. A request of any
	// other type is a protocol error that closes its connection (TypePing is
	// always answered). Required.
	Types TypeSet
	// MaxPayload is the largest payload accepted or sent. The default is
	// DefaultMaxPayload (8 MiB); the limit is MaxPayloadLimit. A response
	// over it is replaced by an error response.
	MaxPayload int
	// MaxConcurrentPerConn bounds the requests of one connection handled at
	// once; when it is reached the server stops reading that connection
	// until a handler returns, which pushes back on the client through TCP.
	// The default is 64.
	MaxConcurrentPerConn int
	// WriteTimeout is how long a connection may fail to accept response
	// bytes before it is closed. The default is 5 s.
	WriteTimeout time.Duration
	// OnConnError, if set, is called when a connection ends because of a
	// protocol violation or an I/O error (not a clean close), with the
	// remote address. It must not block.
	OnConnError func(remote net.Addr, err error)
	// Inline, if set, may answer a request on the connection's reader,
	// before it would be handed to a worker goroutine: it appends the
	// response payload to dst and returns its type and true, or returns
	// false and the request goes to a worker as usual. An answer this
	// way saves a hand-off between goroutines and a second decode of the
	// request, and holds every later request of the connection while it
	// runs, so answer only what is cheap and cannot block (a read served
	// from memory). It must keep neither payload nor dst.
	Inline func(t MsgType, payload, dst []byte) (MsgType, []byte, bool)
}

// EnsureDefaults fills zero fields with their defaults.
func (o *ServerOptions) EnsureDefaults() {
	if o.MaxPayload == 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.MaxConcurrentPerConn == 0 {
		o.MaxConcurrentPerConn = 64
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 5 * time.Second
	}
}

// Validate rejects options that cannot work. Call it after EnsureDefaults.
func (o *ServerOptions) Validate() error {
	switch {
	case o.Types.Empty():
		return fmt.Errorf("%w: no request Types", ErrInvalidOptions)
	case o.MaxPayload < 1 || o.MaxPayload > MaxPayloadLimit:
		return fmt.Errorf("%w: MaxPayload %d not in [1, %d]", ErrInvalidOptions, o.MaxPayload, MaxPayloadLimit)
	case o.MaxConcurrentPerConn < 1:
		return fmt.Errorf("%w: MaxConcurrentPerConn %d", ErrInvalidOptions, o.MaxConcurrentPerConn)
	case o.WriteTimeout < 0:
		return fmt.Errorf("%w: negative WriteTimeout", ErrInvalidOptions)
	}
	return nil
}
