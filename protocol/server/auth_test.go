package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
)

func authFile(t *testing.T) *memcache.AuthFile {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authfile")
	if err := os.WriteFile(path, []byte("foo:bar\nbaaaz:quux\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := memcache.LoadAuthFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// memcached's -Y, over the event loops and over TLS: nothing but a set
// carrying "user password" is served before it succeeds; failures keep
// the connection; pipelined commands after the login in one write run.
func TestASCIIAuth(t *testing.T) {
	ts := newTLSSetup(t, false)
	for _, tc := range []struct {
		name string
		opts Options
	}{{"plain", Options{}}, {"tls", Options{TLS: ts.server}}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Auth = authFile(t)
			s := start(t, fakekv.New(nil), tc.opts)
			dialIt := func() *client {
				if tc.opts.TLS != nil {
					return mustDialTLS(t, s, ts.client)
				}
				return dial(t, s)
			}
			c := dialIt()
			c.send("get foo\r\n")
			c.expect("CLIENT_ERROR unauthenticated\r\n")
			c.send("mg foo v\r\nversion\r\nstats\r\n")
			c.expect("CLIENT_ERROR unauthenticated\r\nCLIENT_ERROR unauthenticated\r\nCLIENT_ERROR unauthenticated\r\n")
			c.send("set foo 0 0 7\r\nfoo bab\r\n")
			c.expect("CLIENT_ERROR authentication failure\r\n")
			c.send("set foo 0 0 6\r\nfoobar\r\n")
			c.expect("CLIENT_ERROR bad authentication token format\r\n")
			c.send("set nobody 0 0 7\r\nnoone x\r\n")
			c.expect("CLIENT_ERROR authentication failure\r\n")
			// In, and the next commands of the same write are served.
			c.send("set foo 0 0 7 noreply\r\nfoo bar\r\nset toast 0 0 2\r\nhi\r\nget toast foo\r\n")
			c.expect("STORED\r\nSTORED\r\nVALUE toast 0 2\r\nhi\r\nEND\r\n")
			if n := c.stat("auth_cmds"); n != 4 {
				t.Errorf("auth_cmds = %d, want 4", n)
			}
			if n := c.stat("auth_errors"); n != 3 {
				t.Errorf("auth_errors = %d, want 3", n)
			}
			if st := c.stats("stats settings"); st["auth_enabled_ascii"] == "no" || st["auth_enabled_sasl"] != "no" {
				t.Errorf("stats settings: auth_enabled_ascii %q, auth_enabled_sasl %q", st["auth_enabled_ascii"], st["auth_enabled_sasl"])
			}
			// Each connection authenticates for itself.
			d := dialIt()
			d.send("get toast\r\n")
			d.expect("CLIENT_ERROR unauthenticated\r\n")
			d.send("set x 0 0 10\r\nbaaaz quux\r\nget toast\r\n")
			d.expect("STORED\r\nVALUE toast 0 2\r\nhi\r\nEND\r\n")
			e := dialIt()
			e.send("quit\r\n")
			e.expectEOF()
		})
	}
}

func TestLoadAuthFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, want string }{
		{"no colon", "foo:bar\nbaz\n", "line 2: not user:password"},
		{"empty user", ":bar\n", "line 1"},
		{"empty password", "foo:\n", "line 1"},
		{"nobody", "\n\n", "names no user"},
		{"space in a name", "u v:w\n", "line 1: a user name may not hold a space"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := memcache.LoadAuthFile(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if _, err := memcache.LoadAuthFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing auth file loaded")
	}
	// A user listed twice logs in with either password (a rotation).
	path := filepath.Join(dir, "rotating")
	if err := os.WriteFile(path, []byte("app:old\napp:new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := memcache.LoadAuthFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, fakekv.New(nil), Options{Auth: a})
	for _, pass := range []string{"old", "new"} {
		c := dial(t, s)
		c.send("set x 0 0 " + fmt.Sprint(len(pass)+4) + "\r\napp " + pass + "\r\n")
		c.expect("STORED\r\n")
	}
	c := dial(t, s)
	c.send("set x 0 0 9\r\napp other\r\n")
	c.expect("CLIENT_ERROR authentication failure\r\n")
}
