package tlsconf_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf/tlstest"
)

func TestConfigs(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	cert, key := ca.Issue("node")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := tlsconf.Server(cert, key, "")
	if err != nil || len(srv.Certificates) != 1 || srv.ClientAuth != tls.NoClientCert || srv.MinVersion != tls.VersionTLS12 {
		t.Fatalf("server: %+v, %v", srv, err)
	}
	srv, err = tlsconf.Server(cert, key, ca.CertFile)
	if err != nil || srv.ClientAuth != tls.RequireAndVerifyClientCert || srv.ClientCAs == nil {
		t.Fatalf("server verifying clients: %v", err)
	}
	cli, err := tlsconf.Client(ca.CertFile, cert, key, false)
	if err != nil || cli.RootCAs == nil || len(cli.Certificates) != 1 {
		t.Fatalf("client: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"server without a key", func() error { _, err := tlsconf.Server(cert, "", ""); return err }, "both a certificate and a key"},
		{"server, key is not PEM", func() error { _, err := tlsconf.Server(cert, notPEM, ""); return err }, "loading the TLS certificate"},
		{"server, CA is not PEM", func() error { _, err := tlsconf.Server(cert, key, notPEM); return err }, "holds no PEM certificate"},
		{"client, CA missing", func() error { _, err := tlsconf.Client(notPEM+".gone", "", "", false); return err }, "reading the server CA file"},
		{"client, certificate without key", func() error { _, err := tlsconf.Client("", cert, "", false); return err }, "needs both"},
		{"client, key and certificate swapped", func() error { _, err := tlsconf.Client("", key, cert, false); return err }, "loading the TLS client certificate"},
	} {
		if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}
