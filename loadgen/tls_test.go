package loadgen

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/fakeserver"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf/tlstest"
)

// A tls:// target is dialled over TLS, checked against Config.TLS's CAs;
// a target that does not speak TLS, or a certificate nobody trusts, fails
// the connections and says why.
func TestTLSTargets(t *testing.T) {
	ca := tlstest.NewCA(t, "loadgen-test")
	cert, key := ca.Issue("server")
	srvCfg, err := tlsconf.Server(cert, key, "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := fakeserver.New(fakeserver.Options{})
	go srv.Serve(tls.NewListener(ln, srvCfg))
	t.Cleanup(func() { ln.Close() })
	target := TLSScheme + ln.Addr().String()

	trusting, err := tlsconf.Client(ca.CertFile, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	const ops = 2000
	res := run(t, Config{Targets: []string{target}, TLS: trusting, Conns: 2, Pipeline: 4, Ops: ops,
		Warmup: 10 * time.Millisecond, Keys: workload.KeySpec{Keys: 100}, Preload: 100})
	if s := res.Summary; s.Ops != ops || s.All.Failed != 0 {
		t.Fatalf("over TLS: ops %d failed %d", s.Ops, s.All.Failed)
	}

	untrusting := Config{Targets: []string{target}, Conns: 1, Ops: 10, Timeout: time.Second, DialTimeout: time.Second}
	if _, err := Run(t.Context(), untrusting); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a target whose certificate the client does not trust: %v", err)
	}
	plainAddr, _ := startFake(t, fakeserver.Options{})
	plain := Config{Targets: []string{TLSScheme + plainAddr}, TLS: trusting, Conns: 1, Ops: 10, Timeout: time.Second, DialTimeout: time.Second}
	if _, err := Run(t.Context(), plain); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("a tls:// target speaking plain text: %v", err)
	}
	if err := (&Config{Targets: []string{"tls://nohost"}}).Validate(); err == nil {
		t.Fatal("tls://nohost validated")
	}
}
