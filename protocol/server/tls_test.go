package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf/tlstest"
)

// tlsSetup is a CA, a server certificate it signed, and a client
// configuration that trusts it.
type tlsSetup struct {
	ca             *tlstest.CA
	server, client *tls.Config
}

func newTLSSetup(t *testing.T, verifyClients bool) tlsSetup {
	t.Helper()
	ca := tlstest.NewCA(t, "test")
	certFile, keyFile := ca.Issue("server")
	clientCA := ""
	if verifyClients {
		clientCA = ca.CertFile
	}
	srv, err := tlsconf.Server(certFile, keyFile, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := tlsconf.Client(ca.CertFile, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	return tlsSetup{ca: ca, server: srv, client: cli}
}

// dialTLS connects with cfg and completes the handshake.
func dialTLS(t *testing.T, s *Server, cfg *tls.Config) (*client, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", s.Addr().String(), cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}, nil
}

func mustDialTLS(t *testing.T, s *Server, cfg *tls.Config) *client {
	t.Helper()
	c, err := dialTLS(t, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTLSServesTheProtocol(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		t.Run(fmt.Sprintf("ConcurrentBatches=%v", concurrent), func(t *testing.T) { tlsServesTheProtocol(t, concurrent) })
	}
}

func tlsServesTheProtocol(t *testing.T, concurrent bool) {
	ts := newTLSSetup(t, false)
	s := start(t, fakekv.New(nil), Options{TLS: ts.server, ConcurrentBatches: concurrent})
	c := mustDialTLS(t, s, ts.client)
	// Pipelined in one write, as a client batches them.
	c.send("set a 0 0 3\r\nabc\r\nget a\r\nmn\r\ndelete a\r\nget a\r\n")
	c.expect("STORED\r\nVALUE a 0 3\r\nabc\r\nEND\r\nMN\r\nDELETED\r\nEND\r\n")
	// A command split across writes (and so across TLS records).
	c.send("set b 0 0 5\r\nhel")
	time.Sleep(10 * time.Millisecond)
	c.send("lo\r\nget b\r\n")
	c.expect("STORED\r\nVALUE b 0 5\r\nhello\r\nEND\r\n")
	if n := c.stat("ssl_handshake_errors"); n != 0 {
		t.Errorf("ssl_handshake_errors = %d", n)
	}
	st := c.stats("stats settings")
	if st["ssl_enabled"] != "yes" || st["ssl_verify_mode"] != "0" {
		t.Errorf("stats settings: ssl_enabled %q, ssl_verify_mode %q", st["ssl_enabled"], st["ssl_verify_mode"])
	}
	c.send("quit\r\n")
	c.expectEOF()
}

// A multi-key reply past memcache.SpillBytes streams in parts and still
// arrives whole and in order.
func TestTLSLargeMultiGet(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		t.Run(fmt.Sprintf("ConcurrentBatches=%v", concurrent), func(t *testing.T) { tlsLargeMultiGet(t, concurrent) })
	}
}

func tlsLargeMultiGet(t *testing.T, concurrent bool) {
	ts := newTLSSetup(t, false)
	s := start(t, fakekv.New(nil), Options{TLS: ts.server, ConcurrentBatches: concurrent})
	c := mustDialTLS(t, s, ts.client)
	val := strings.Repeat("v", 900<<10)
	var want strings.Builder
	for _, k := range []string{"k1", "k2", "k3"} {
		c.send("set " + k + " 0 0 921600 noreply\r\n" + val + "\r\n")
		want.WriteString("VALUE " + k + " 0 921600\r\n" + val + "\r\n")
	}
	want.WriteString("END\r\n")
	c.send("get k1 k2 k3\r\n")
	c.expect(want.String())
}

// Bad input on the TLS port (plain text, garbage, half a handshake, a
// client that distrusts the certificate) costs a handshake error and the
// connection, never the server.
func TestTLSBadHandshakesLeaveItServing(t *testing.T) {
	ts := newTLSSetup(t, false)
	s := start(t, fakekv.New(nil), Options{TLS: ts.server})
	raw := func(data string) {
		t.Helper()
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
		if data != "" && data[0] == 0x16 {
			c.(*net.TCPConn).CloseWrite() // a truncated handshake: the client goes quiet
		}
		_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if strings.Contains(string(buf[:n]), "VALUE") {
				t.Fatalf("plain text answered: %q", buf[:n])
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("the server kept a bad handshake open")
				}
				return
			}
		}
	}
	raw("get a\r\n")
	raw("\x00\xff\x13garbage\r\n\r\n")
	raw("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  // a ClientHello cut short
	untrusting, err := tlsconf.Client("", "", "", false) // the system's CAs
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialTLS(t, s, untrusting); err == nil {
		t.Fatal("a client that does not trust the test CA completed a handshake")
	}
	c := mustDialTLS(t, s, ts.client)
	deadline := time.Now().Add(10 * time.Second)
	for s.tlsHandshakeErrors.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := c.stat("ssl_handshake_errors"); n != 4 {
		t.Errorf("ssl_handshake_errors = %d, want 4", n)
	}
	c.send("version\r\n")
	c.expect("VERSION 1.6.18-dynamo\r\n")
}

// A client that opens the socket and says nothing is let go after the
// handshake timeout.
func TestTLSSilentClientIsLetGo(t *testing.T) {
	// Restored after the server's cleanup (cleanups run last first), once
	// no connection goroutine reads it.
	was := handshakeTimeout
	t.Cleanup(func() { handshakeTimeout = was })
	handshakeTimeout = 50 * time.Millisecond
	ts := newTLSSetup(t, false)
	s := start(t, fakekv.New(nil), Options{TLS: ts.server})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	(&client{t: t, c: c, r: bufio.NewReader(c)}).expectEOF()
}

// With a client CA, only clients holding a certificate it signed get in.
func TestTLSClientCertificates(t *testing.T) {
	ts := newTLSSetup(t, true)
	s := start(t, fakekv.New(nil), Options{TLS: ts.server})
	probe := func(cfg *tls.Config) error {
		c, err := dialTLS(t, s, cfg)
		if err != nil {
			return err
		}
		// TLS 1.3 reports a refused client certificate on the first read.
		c.send("version\r\n")
		_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := c.r.ReadString('\n')
		if err != nil {
			return err
		}
		if line != "VERSION 1.6.18-dynamo\r\n" {
			t.Fatalf("got %q", line)
		}
		return nil
	}
	if err := probe(ts.client); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	other := tlstest.NewCA(t, "other")
	oc, ok := other.Issue("intruder")
	wrong, err := tlsconf.Client(ts.ca.CertFile, oc, ok, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := probe(wrong); err == nil {
		t.Fatal("a client whose certificate another CA signed was served")
	}
	cc, ck := ts.ca.Issue("client")
	right, err := tlsconf.Client(ts.ca.CertFile, cc, ck, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := probe(right); err != nil {
		t.Fatalf("a client with a good certificate: %v", err)
	}
	c := mustDialTLS(t, s, right)
	if st := c.stats("stats settings"); st["ssl_verify_mode"] != "2" {
		t.Errorf("ssl_verify_mode = %q, want 2", st["ssl_verify_mode"])
	}
}

func TestTLSMaxConnsAndIdle(t *testing.T) {
	ts := newTLSSetup(t, false)
	s := start(t, fakekv.New(nil), Options{TLS: ts.server, MaxConns: 1, IdleTimeout: 200 * time.Millisecond})
	a := mustDialTLS(t, s, ts.client)
	a.send("version\r\n")
	a.expect("VERSION 1.6.18-dynamo\r\n")
	b := mustDialTLS(t, s, ts.client)
	b.expect("ERROR Too many open connections\r\n")
	b.expectEOF()
	a.expectEOF() // idle past the timeout
	deadline := time.Now().Add(5 * time.Second)
	for s.curr.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c := mustDialTLS(t, s, ts.client)
	if n := c.stat("idle_kicks"); n != 1 {
		t.Errorf("idle_kicks = %d, want 1", n)
	}
	if n := c.stat("rejected_connections"); n != 1 {
		t.Errorf("rejected_connections = %d, want 1", n)
	}
}

// Shutdown lets a batch in flight write its reply, then closes every
// connection, idle ones too.
func TestTLSShutdown(t *testing.T) {
	ts := newTLSSetup(t, false)
	kv := fakekv.New(nil)
	s, err := New(kv, Options{Listen: "127.0.0.1:0", TLS: ts.server})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	<-s.Ready()
	busy, idle := mustDialTLS(t, s, ts.client), mustDialTLS(t, s, ts.client)
	idle.send("version\r\n")
	idle.expect("VERSION 1.6.18-dynamo\r\n")
	kv.SetFaults(fakekv.Faults{Delay: 300 * time.Millisecond})
	busy.send("set a 0 0 1\r\nx\r\n")
	deadline := time.Now().Add(5 * time.Second)
	for s.inflight.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	busy.expect("STORED\r\n")
	busy.expectEOF()
	idle.expectEOF()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestTLSNeedsACertificate(t *testing.T) {
	if _, err := New(fakekv.New(nil), Options{TLS: &tls.Config{}}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("New with an empty TLS config: %v", err)
	}
}
