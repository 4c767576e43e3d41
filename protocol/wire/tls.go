package wire

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
)

// Mutual TLS. A cluster whose nodes hold certificates one CA signed
// wraps its internode listener with TLSListener and its pools' dialer
// with TLSDialer (the configuration from protocol/tlsconf.Internode): a
// process without such a certificate can then neither read nor write
// replicas, and a passive listener sees nothing. The frames inside are the
// same.

// TLSHandshakeTimeout bounds the server side of a handshake, so a peer
// that connects and sends nothing does not hold a connection open.
var TLSHandshakeTimeout = 10 * time.Second

// HandshakeFailed, when not nil, is told of each failed handshake: the
// peer's address and the error (an operator must hear why a node cannot
// reach the others; the caller rate-limits).
type HandshakeFailed func(peer string, err error)

// TLSDialer wraps d so that every connection runs a TLS handshake with
// cfg before the first frame.
func TLSDialer(d Dialer, cfg *tls.Config, failed HandshakeFailed) Dialer {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		nc, err := d(ctx, addr)
		if err != nil {
			return nil, err
		}
		tc, err := tlsconf.Handshake(ctx, nc, addr, cfg)
		if err != nil && failed != nil {
			failed(addr, err)
		}
		return tc, err
	}
}

// TLSListener wraps l so that every connection it accepts speaks TLS with
// cfg. The handshake runs on the connection's first read or write (not in
// Accept, which would let one slow peer hold every other back), within
// TLSHandshakeTimeout.
func TLSListener(l net.Listener, cfg *tls.Config, failed HandshakeFailed) net.Listener {
	return &tlsListener{Listener: l, cfg: cfg, failed: failed}
}

type tlsListener struct {
	net.Listener
	cfg    *tls.Config
	failed HandshakeFailed
}

func (l *tlsListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsServerConn{Conn: tls.Server(nc, l.cfg), raw: nc, failed: l.failed}, nil
}

// tlsServerConn completes its handshake, once, before the first read or
// write goes through.
type tlsServerConn struct {
	*tls.Conn
	raw    net.Conn
	failed HandshakeFailed
	once   sync.Once
	err    error
}

func (c *tlsServerConn) handshake() error {
	c.once.Do(func() {
		_ = c.raw.SetDeadline(time.Now().Add(TLSHandshakeTimeout))
		c.err = c.Conn.Handshake()
		_ = c.raw.SetDeadline(time.Time{})
		if c.err != nil && c.failed != nil {
			c.failed(c.raw.RemoteAddr().String(), c.err)
		}
	})
	return c.err
}

func (c *tlsServerConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *tlsServerConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
