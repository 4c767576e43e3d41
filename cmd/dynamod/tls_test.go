package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/memcache"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf/tlstest"
	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// The client port with -tls-cert and -tls-key speaks TLS to Go's client
// and to openssl's, and plain text gets nothing but a closed connection.
func TestTLSClientPort(t *testing.T) {
	ca := tlstest.NewCA(t, "dynamod-test")
	cert, key := ca.Issue("node")
	addr := freePort(t)
	startProcess(t, addr, "-listen", addr, "-data", t.TempDir(), "-tls-cert", cert, "-tls-key", key)

	cfg, err := tlsconf.Client(ca.CertFile, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := &mc{c: c, r: bufio.NewReader(c)}
	if err := m.set("k", "over tls"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := m.get("k"); err != nil || !ok || v != "over tls" {
		t.Fatalf("get k: %q %v %v", v, ok, err)
	}

	plain := dialMC(t, addr)
	plain.c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(plain.c, "get k\r\n")
	if line, err := plain.r.ReadString('\n'); err == nil && strings.Contains(line, "VALUE") {
		t.Fatalf("a plain-text client read %q from the TLS port", line)
	}

	openssl, err := exec.LookPath("openssl")
	if err != nil {
		missingTool(t, "openssl not installed")
	}
	cmd := exec.Command(openssl, "s_client", "-connect", addr, "-CAfile", ca.CertFile, "-verify_return_error", "-quiet")
	cmd.Stdin = strings.NewReader("get k\r\nset o 0 0 2\r\nok\r\nget o\r\nquit\r\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl s_client: %v\n%s", err, out)
	}
	want := "VALUE k 0 8\r\nover tls\r\nEND\r\nSTORED\r\nVALUE o 0 2\r\nok\r\nEND\r\n"
	if string(out) != want {
		t.Fatalf("openssl s_client read %q, want %q", out, want)
	}
}

func TestTLSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-tls-cert", missing}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-client-ca", missing}, "-tls-client-ca needs -tls-cert and -tls-key"},
		{[]string{"-data", dir, "-tls-cert", missing, "-tls-key", missing}, "loading the TLS certificate"},
		{[]string{"-data", dir, "-auth-file", missing}, "reading the auth file"},
		{[]string{"-node-id", "n1", "-internode-tls-cert", missing}, "go together"},
		{[]string{"-node-id", "n1", "-gossip", "10.0.0.1:7946"}, "beyond loopback: give -gossip-key-file"},
		{[]string{"-node-id", "n1", "-gossip", ":7946"}, "beyond loopback"},
		{[]string{"-internode-tls-cert", missing, "-internode-tls-key", missing, "-internode-tls-ca", missing}, "needs cluster mode"},
		{[]string{"-data", dir, "-node-id", "n1", "-internode-tls-cert", missing, "-internode-tls-key", missing, "-internode-tls-ca", missing}, "loading the internode certificate"},
	} {
		var out strings.Builder
		code := run(tc.args, &out)
		if code != 2 || !strings.HasPrefix(out.String(), "dynamod: ") || strings.Count(out.String(), "\n") != 1 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: code %d, output %q; want 2 and one line mentioning %q", tc.args, code, out.String(), tc.want)
		}
	}
}

// A node whose client port asks for TLS with client certificates and a
// login serves a client that has all three, refuses one that lacks the
// login with memcached's own line, and is administered by dynctl given the
// same credentials.
func TestSecuredClientPortAndDynctl(t *testing.T) {
	ca := tlstest.NewCA(t, "dynamod-test")
	cert, key := ca.Issue("node")
	ccert, ckey := ca.Issue("operator")
	authFile := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(authFile, []byte("ops:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	client, gossip, internode := freePort(t), freePort(t), freePort(t)
	startClusterNode(t, "n1", t.TempDir(), client, gossip, internode, "",
		"-n", "1", "-r", "1", "-w", "1", "-tls-cert", cert, "-tls-key", key, "-tls-client-ca", ca.CertFile, "-auth-file", authFile)

	cfg, err := tlsconf.Client(ca.CertFile, ccert, ckey, false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "get k\r\n")
	if line, _ := r.ReadString('\n'); line != "CLIENT_ERROR unauthenticated\r\n" {
		t.Fatalf("before logging in: %q", line)
	}
	if err := memcache.Login(c, "ops", "s3cret"); err != nil {
		t.Fatal(err)
	}
	m := &mc{c: c, r: r}
	if err := m.set("k", "v"); err != nil {
		t.Fatal(err)
	}

	dynctl := buildDynctl(t)
	out, err := exec.Command(dynctl, "-node", client, "-tls-ca", ca.CertFile, "-tls-cert", ccert, "-tls-key", ckey,
		"-auth", "ops:s3cret", "status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "n1") {
		t.Fatalf("dynctl status with the credentials: %v\n%s", err, out)
	}
	out, err = exec.Command(dynctl, "-node", client, "-tls-ca", ca.CertFile, "-tls-cert", ccert, "-tls-key", ckey,
		"status").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unauthenticated") {
		t.Fatalf("dynctl status without -auth: %v\n%s", err, out)
	}
	out, err = exec.Command(dynctl, "-node", client, "-tls-ca", ca.CertFile, "-auth", "ops:s3cret", "status").CombinedOutput()
	if err == nil {
		t.Fatalf("dynctl status without a client certificate succeeded:\n%s", out)
	}
}

// Two nodes on mutual TLS replicate (a write at W=2 through one is read
// through the other); a process without a certificate of the cluster's CA
// is refused by their internode ports, while they go on serving.
func TestInternodeMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "cluster")
	var nodes []*clusterProc
	for i := range 2 {
		cert, key := ca.Issue(fmt.Sprintf("n%d", i+1))
		join := ""
		if i > 0 {
			join = nodes[0].gossip
		}
		nodes = append(nodes, startClusterNode(t, fmt.Sprintf("n%d", i+1), t.TempDir(), freePort(t), freePort(t), freePort(t), join,
			"-n", "2", "-r", "2", "-w", "2", "-internode-tls-cert", cert, "-internode-tls-key", key, "-internode-tls-ca", ca.CertFile))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := dialMC(t, nodes[0].addr)
		err := m.set("k", "replicated")
		m.c.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a W=2 write over mutual TLS: %v\n%s", err, nodes[0].logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	m := dialMC(t, nodes[1].addr)
	defer m.c.Close()
	if v, ok, err := m.get("k"); err != nil || !ok || v != "replicated" {
		t.Fatalf("read through n2: %q %v %v", v, ok, err)
	}

	ping := func(dial wire.Dialer) error {
		p, err := wire.NewPool(wire.Options{Dial: dial, DialTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return p.Client(nodes[0].internode).Ping(ctx)
	}
	cert, key := ca.Issue("member")
	member, err := tlsconf.Internode(cert, key, ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(wire.TLSDialer(wire.TCPDialer(), member, nil)); err != nil {
		t.Fatalf("a round trip with a certificate of the cluster's CA: %v", err)
	}
	for _, dial := range []wire.Dialer{
		wire.TCPDialer(),
		wire.TLSDialer(wire.TCPDialer(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, nil),
	} {
		if err := ping(dial); err == nil {
			t.Fatal("a non-member reached the internode port")
		}
	}
	if v, ok, err := m.get("k"); err != nil || !ok || v != "replicated" {
		t.Fatalf("read after the refusals: %q %v %v", v, ok, err)
	}
	// And the operator is told why a peer cannot replicate.
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(nodes[0].logs.String(), "internode TLS handshake failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line about the refused handshakes:\n%s", nodes[0].logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
