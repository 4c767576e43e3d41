// Under the race detector two of memcached's files (getset.t and
// chunked-items.t, megabytes of values each) take minutes; `make test`
// runs this file in a plain pass of its own (make suite).

//go:build !race

package compat

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/memcache"
	"github.com/dynamo-kv/dynamo/protocol/server"
)

// suiteFiles are memcached 1.6.18's protocol-level test files (issue_104
// wants a server that has served no get; each file gets a server of its
// own). The rest of its t/ needs memcached's own binary (restarts, flags,
// extstore, TLS, SASL, UDP, the proxy).
var suiteFiles = []string{
	"issue_104", "bogus-commands", "cas", "flags", "getset", "incrdecr", "noreply", "touch",
	"getandtouch", "multiversioning", "chunked-items", "quit", "metaget", "issue_108",
	"issue_152", "issue_3", "issue_68", "issue_70", "malicious-commands", "strtol-testing",
	"stats-detail",
	"ascii-auth", // against a server started with the suite's authfile (memcached -Y)
}

// suiteDir is where memcached's t/ directory is: DYNAMO_MEMCACHED_SUITE,
// else the copy the team keeps beside the checkout.
func suiteDir() string {
	if d := os.Getenv("DYNAMO_MEMCACHED_SUITE"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "reference", "memcached-1.6.18-t")
}

// TestMemcachedSuite runs memcached's own test files against this server
// on the real engine, as an outside oracle: its MemcachedTest.pm connects
// to a running server when T_MEMD_USE_DAEMON names one. It still runs
// "<cwd>/memcached-debug -h" to see which optional features the server
// has; the stand-in written here advertises none, so the extstore, SASL,
// TLS and proxy parts skip themselves. Each file runs against a fresh
// server of its own, in parallel.
func TestMemcachedSuite(t *testing.T) {
	dir, err := filepath.Abs(suiteDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lib", "MemcachedTest.pm")); err != nil {
		missing(t, "memcached's test suite not found at %s (set DYNAMO_MEMCACHED_SUITE)", dir)
	}
	perl, err := exec.LookPath("perl")
	if err != nil {
		missing(t, "perl not found")
	}
	work := t.TempDir()
	standIn := "#!/bin/sh\necho \"memcached 1.6.18\"\n"
	if err := os.WriteFile(filepath.Join(work, "memcached-debug"), []byte(standIn), 0o755); err != nil {
		t.Fatal(err)
	}
	// Each file runs twice: with commands run in order, as a single node
	// runs them, and with a pipeline's independent commands run at once,
	// as a cluster coordinator runs them.
	for _, name := range suiteFiles {
		for _, concurrent := range []bool{false, true} {
			sub := name
			if concurrent {
				sub += "/concurrent"
			}
			t.Run(sub, func(t *testing.T) { runSuiteFile(t, dir, work, perl, name, concurrent) })
		}
	}
}

// runSuiteFile runs one of memcached's test files against a fresh server.
func runSuiteFile(t *testing.T, dir, work, perl, name string, concurrent bool) {
	t.Parallel()
	opts := server.Options{ConcurrentBatches: concurrent}
	if name == "ascii-auth" {
		auth, err := memcache.LoadAuthFile(filepath.Join(dir, "authfile"))
		if err != nil {
			t.Fatal(err)
		}
		opts.Auth = auth
	}
	addr := StartServer(t, newEngine(t), opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, perl, filepath.Join(dir, name+".t"))
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "T_MEMD_USE_DAEMON="+addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s.t: %v\n%s", name, err, failures(string(out)))
	}
}

// failures keeps the lines of TAP output that explain a failure.
func failures(tap string) string {
	var b strings.Builder
	keep := false
	for _, l := range strings.Split(tap, "\n") {
		switch {
		case strings.HasPrefix(l, "not ok"):
			keep = true
		case strings.HasPrefix(l, "ok "):
			keep = false
		}
		if keep || strings.HasPrefix(l, "# Looks like") {
			b.WriteString(l + "\n")
		}
	}
	if b.Len() == 0 {
		return tap
	}
	return b.String()
}
