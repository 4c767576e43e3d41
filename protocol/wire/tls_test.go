package wire

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf/tlstest"
)

// Over mutual TLS, a member (a certificate from the cluster's CA) is
// served; a plain-TCP peer, a peer without a certificate and one whose
// certificate another CA signed are not, and the server keeps serving.
func TestMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "cluster")
	internode := func(ca *tlstest.CA, name string) *tls.Config {
		cert, key := ca.Issue(name)
		cfg, err := tlsconf.Internode(cert, key, ca.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	h := newTestHandler()
	var failures atomic.Int64
	serveOn(t, TLSListener(l, internode(ca, "n1"), func(string, error) { failures.Add(1) }), h, ServerOptions{})

	echo := func(dial Dialer) error {
		p := newTestPool(t, Options{Dial: dial, DialTimeout: 2 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		typ, resp, err := p.Call(ctx, addr, typeEcho, []byte("abc"), nil)
		if err == nil && (typ != typeEchoReply || string(resp) != "cba") {
			t.Fatalf("echo over TLS: %d %q", typ, resp)
		}
		return err
	}
	if err := echo(TLSDialer(TCPDialer(), internode(ca, "n2"), nil)); err != nil {
		t.Fatalf("a member: %v", err)
	}
	before := h.callCount()
	if err := echo(TCPDialer()); err == nil {
		t.Error("a plain-TCP peer was served")
	}
	noCert := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	if err := echo(TLSDialer(TCPDialer(), noCert, nil)); err == nil {
		t.Error("a peer without a certificate was served")
	}
	other := tlstest.NewCA(t, "other")
	if err := echo(TLSDialer(TCPDialer(), internode(other, "intruder"), nil)); err == nil {
		t.Error("a peer whose certificate another CA signed was served")
	}
	if got := h.callCount(); got != before {
		t.Errorf("the handler ran %d requests of non-members", got-before)
	}
	eventually(t, "the refused handshakes to be reported", func() bool { return failures.Load() >= 3 })
	if err := echo(TLSDialer(TCPDialer(), internode(ca, "n3"), nil)); err != nil {
		t.Fatalf("a member after the refusals: %v", err)
	}
	// A member whose certificate names serverAuth alone (as many CAs issue
	// them) is a member too, dialling as dialled.
	cert, key := ca.IssueServerOnly("n4")
	n4, err := tlsconf.Internode(cert, key, ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(TLSDialer(TCPDialer(), n4, nil)); err != nil {
		t.Fatalf("a member with a serverAuth-only certificate: %v", err)
	}
}

// A peer that connects and never completes a handshake is let go.
func TestTLSHandshakeTimeout(t *testing.T) {
	was := TLSHandshakeTimeout
	t.Cleanup(func() { TLSHandshakeTimeout = was })
	TLSHandshakeTimeout = 50 * time.Millisecond
	ca := tlstest.NewCA(t, "cluster")
	cert, key := ca.Issue("n1")
	cfg, err := tlsconf.Internode(cert, key, ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, TLSListener(l, cfg, nil), newTestHandler(), ServerOptions{})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept a silent peer's connection open")
			}
			return
		}
	}
}
