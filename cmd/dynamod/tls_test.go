package main

import (
	"bufio"
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
