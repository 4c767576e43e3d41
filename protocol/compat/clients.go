package compat

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dynamo-kv/dynamo/protocol/server"
)

// RunClients runs each third-party client against our server over newKV.
// A client whose binary or module is missing is skipped with a message.
func RunClients(t *testing.T, newKV NewKV) {
	addr := StartServer(t, newKV(t), server.Options{})
	t.Run("gomemcache", func(t *testing.T) { gomemcacheWorkload(t, addr) })
	t.Run("libmemcached_tools", func(t *testing.T) { libmemcachedTools(t, addr) })
	t.Run("memccapable", func(t *testing.T) { memccapable(t, addr) })
	t.Run("perl_Cache_Memcached", func(t *testing.T) { perlClient(t, addr) })
	t.Run("python_pymemcache", func(t *testing.T) { pythonClient(t, addr) })
}

func gomemcacheWorkload(t *testing.T, addr string) {
	mc := memcache.New(addr)
	mc.Timeout = 5 * time.Second
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("FlushAll", mc.FlushAll())
	must("Ping", mc.Ping())
	must("Set", mc.Set(&memcache.Item{Key: "go:a", Value: []byte("alpha"), Flags: 42}))
	it, err := mc.Get("go:a")
	must("Get", err)
	if string(it.Value) != "alpha" || it.Flags != 42 {
		t.Fatalf("Get = %q flags %d", it.Value, it.Flags)
	}
	if err := mc.Add(&memcache.Item{Key: "go:a", Value: []byte("x")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("Add on existing key: %v", err)
	}
	if err := mc.Replace(&memcache.Item{Key: "go:none", Value: []byte("x")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("Replace on missing key: %v", err)
	}
	must("Append", mc.Append(&memcache.Item{Key: "go:a", Value: []byte("-z")}))
	must("Prepend", mc.Prepend(&memcache.Item{Key: "go:a", Value: []byte("a-")}))
	it, err = mc.Get("go:a")
	must("Get after append", err)
	if string(it.Value) != "a-alpha-z" {
		t.Fatalf("after append/prepend: %q", it.Value)
	}
	it.Value = []byte("swapped")
	must("CompareAndSwap", mc.CompareAndSwap(it))
	if err := mc.CompareAndSwap(it); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("second CompareAndSwap with a stale CAS: %v", err)
	}
	must("Set counter", mc.Set(&memcache.Item{Key: "go:n", Value: []byte("10")}))
	if v, err := mc.Increment("go:n", 5); err != nil || v != 15 {
		t.Fatalf("Increment = %d, %v", v, err)
	}
	if v, err := mc.Decrement("go:n", 20); err != nil || v != 0 {
		t.Fatalf("Decrement = %d, %v", v, err)
	}
	if _, err := mc.Increment("go:none", 1); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Increment missing: %v", err)
	}
	must("Touch", mc.Touch("go:a", 100))
	it, err = mc.GetAndTouch("go:a", 200)
	must("GetAndTouch", err)
	if string(it.Value) != "swapped" {
		t.Fatalf("GetAndTouch = %q", it.Value)
	}
	keys := []string{"go:a", "go:n", "go:none"}
	for i := range 50 {
		k := "go:multi:" + strconv.Itoa(i)
		must("Set multi", mc.Set(&memcache.Item{Key: k, Value: bytes.Repeat([]byte{byte(i)}, i*100)}))
		keys = append(keys, k)
	}
	got, err := mc.GetMulti(keys)
	must("GetMulti", err)
	if len(got) != 52 {
		t.Fatalf("GetMulti returned %d items, want 52", len(got))
	}
	for i := range 50 {
		if v := got["go:multi:"+strconv.Itoa(i)]; v == nil || len(v.Value) != i*100 {
			t.Fatalf("GetMulti item %d wrong", i)
		}
	}
	must("Delete", mc.Delete("go:a"))
	if err := mc.Delete("go:a"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := mc.Get("go:a"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get after Delete: %v", err)
	}
	big := bytes.Repeat([]byte("b"), 2<<20)
	if err := mc.Set(&memcache.Item{Key: "go:big", Value: big}); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("Set of 2 MiB: %v", err)
	}
	must("Ping after error", mc.Ping())
}

// tool finds a command-line tool or skips the test.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "%s not installed (Debian package libmemcached-tools) - skipping", name)
	}
	return p
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func libmemcachedTools(t *testing.T, addr string) {
	memccp, memccat, memcrm := tool(t, "memccp"), tool(t, "memccat"), tool(t, "memcrm")
	servers := "--servers=" + addr
	dir := t.TempDir()
	file := filepath.Join(dir, "libmc-file.txt")
	content := strings.Repeat("line of text\n", 5000) // 65 KB
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, memccp, servers, "--set", file)
	// memccat prints the value followed by a newline.
	if got := run(t, memccat, servers, "libmc-file.txt"); got != content+"\n" {
		t.Fatalf("memccat returned %d bytes, want %d", len(got), len(content))
	}
	run(t, memcrm, servers, "libmc-file.txt")
	out, err := exec.Command(memccat, servers, "libmc-file.txt").CombinedOutput()
	if err == nil && len(out) > 0 && string(out) == content {
		t.Fatalf("memccat still finds the file after memcrm")
	}
	if slap, err := exec.LookPath("memcslap"); err == nil {
		// A short load run: memcslap reports failures in its output.
		out := run(t, slap, servers, "--concurrency=4", "--execute-number=500", "--test=set")
		out += run(t, slap, servers, "--concurrency=4", "--execute-number=500", "--test=get")
		t.Logf("memcslap:\n%s", out)
	}
}

var capableLine = regexp.MustCompile(`(?m)^(ascii [a-z ]+?)\s+\[(pass|fail|skip)\]`)

// memccapable runs libmemcached's conformance tool (ASCII protocol) against
// memcached and against us; every check memcached passes must pass here.
func memccapable(t *testing.T, addr string) {
	bin := tool(t, "memccapable")
	results := func(a string) map[string]string {
		host, port, _ := strings.Cut(a, ":")
		out, _ := exec.Command(bin, "-h", host, "-p", port, "-a", "-t", "5").CombinedOutput()
		res := map[string]string{}
		for _, m := range capableLine.FindAllStringSubmatch(string(out), -1) {
			res[m[1]] = m[2]
		}
		if len(res) == 0 {
			t.Fatalf("memccapable printed no results against %s:\n%s", a, out)
		}
		return res
	}
	ref := results(StartMemcached(t))
	ours := results(addr)
	var passed []string
	for name, r := range ref {
		if r == "pass" && ours[name] != "pass" {
			t.Errorf("memccapable %q: memcached passes, ours %q", name, ours[name])
		}
		if ours[name] == "pass" {
			passed = append(passed, name)
		}
	}
	t.Logf("memccapable: %d/%d ASCII checks pass against both", len(passed), len(ref))
}

func perlClient(t *testing.T, addr string) {
	if _, err := exec.LookPath("perl"); err != nil {
		missing(t, "perl not installed")
	}
	if err := exec.Command("perl", "-MCache::Memcached", "-e", "1").Run(); err != nil {
		missing(t, "Perl module Cache::Memcached not installed (Debian libcache-memcached-perl)")
	}
	script := `
use strict; use warnings; use Cache::Memcached;
my $m = Cache::Memcached->new({servers => [$ARGV[0]], compress_threshold => 1_000_000});
$m->set("pl:a", "perl value") or die "set";
my $v = $m->get("pl:a"); $v eq "perl value" or die "get: $v";
$m->set("pl:ref", {list => [1,2,3]}) or die "set ref";
my $r = $m->get("pl:ref"); join(",", @{$r->{list}}) eq "1,2,3" or die "storable round trip";
$m->add("pl:a", "x") and die "add on existing key succeeded";
$m->replace("pl:a", "replaced") or die "replace";
$m->set("pl:n", 5); $m->incr("pl:n", 10) == 15 or die "incr"; $m->decr("pl:n", 20) == 0 or die "decr";
my $h = $m->get_multi("pl:a", "pl:n", "pl:none");
$h->{"pl:a"} eq "replaced" && $h->{"pl:n"} == 0 && !exists $h->{"pl:none"} or die "get_multi";
$m->delete("pl:a") or die "delete"; defined $m->get("pl:a") and die "get after delete";
print "ok\n";
`
	out := run(t, "perl", "-e", script, addr)
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("perl: %s", out)
	}
}

// PythonPath is the interpreter that has pymemcache (Debian's python3; a
// pyenv python3 earlier on PATH may not).
const PythonPath = "/usr/bin/python3"

func pythonClient(t *testing.T, addr string) {
	py := PythonPath
	if _, err := os.Stat(py); err != nil {
		missing(t, "python3 not installed")
	}
	if err := exec.Command(py, "-c", "import pymemcache").Run(); err != nil {
		missing(t, "pymemcache not installed for %s (Debian python3-pymemcache)", py)
	}
	script := `
import sys
from pymemcache.client.base import Client
host, port = sys.argv[1].rsplit(":", 1)
c = Client((host, int(port)), connect_timeout=5, timeout=5)
assert c.set("py:a", b"python value")
assert c.get("py:a") == b"python value"
assert c.add("py:a", b"x", noreply=False) is False
assert c.replace("py:none", b"x", noreply=False) is False
v, cas = c.gets("py:a")
assert c.cas("py:a", b"swapped", cas) is True
assert c.cas("py:a", b"again", cas) is False
assert c.get("py:a") == b"swapped"
c.set("py:n", b"7")
assert c.incr("py:n", 3) == 10
assert c.decr("py:n", 11) == 0
assert c.incr("py:none", 1) is None
assert c.append("py:a", b"!")
assert c.prepend("py:a", b"<")
got = c.get_many(["py:a", "py:n", "py:none"])
# decr keeps the old length, padding with spaces, as memcached does.
assert got == {"py:a": b"<swapped!", "py:n": b"0 "}, got
assert c.touch("py:a", 100, noreply=False)
assert c.delete("py:a", noreply=False)
assert c.get("py:a") is None
c.set_many({"py:m%d" % i: b"v" * i for i in range(40)})
assert len(c.get_many(["py:m%d" % i for i in range(40)])) == 40
stats = c.stats()
assert int(stats[b"curr_connections"]) >= 1 and b"cmd_get" in stats, stats
assert c.version()
c.flush_all(noreply=False)
assert c.get("py:n") is None
print("ok")
`
	out := run(t, py, "-c", script, addr)
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("python: %s", out)
	}
}
