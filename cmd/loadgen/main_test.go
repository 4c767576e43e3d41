package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/loadgen/fakeserver"
)

func fake(t *testing.T) string {
	t.Helper()
	addr, _, stop, err := fakeserver.Listen(fakeserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

func invoke(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	code, out, _ := invoke("-help")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var inv invocation
	var o options
	fs := newFlagSet(&inv, &o)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(out, "-"+f.Name) {
			t.Errorf("help lacks -%s", f.Name)
		}
	})
	for _, want := range []string{"(default 10s)", "(default 16)", "(default get=9,set=1)", "Exit status"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// stackTrace matches the header of a goroutine's stack in a panic.
var stackTrace = regexp.MustCompile(`goroutine \d+ \[|panic:`)

func TestBadInputIsOneLineAndExit2(t *testing.T) {
	dir := t.TempDir()
	badProfile := filepath.Join(dir, "bad.toml")
	os.WriteFile(badProfile, []byte("[workload]\nconnections = 5\n"), 0o600)
	for _, args := range [][]string{
		{"-frob"},
		{"-duration", "1s"},
		{"-target", "127.0.0.1:1", "-mix", "get=x"},
		{"-target", "127.0.0.1:1", "-conns", "-4"},
		{"-target", "127.0.0.1:1", "-value-size", "10-2"},
		{"-target", "127.0.0.1:1", "-sla", "p99<fast"},
		{"-target", "nohostport"},
		{"-target", "127.0.0.1:1", "-duration", "1s"}, // refused
		{"-profile", badProfile},
		{"-profile", filepath.Join(dir, "missing.toml")},
		{"-compare", "a=127.0.0.1:1"},
		{"-target", "127.0.0.1:1", "stray"},
		{"-target", "127.0.0.1:1", "-io", "threads"},
		{"-target", "127.0.0.1:1", "-io", "epoll", "-rate", "100"},
	} {
		code, _, stderr := invoke(args...)
		if code != exitBadInput || !strings.HasPrefix(stderr, "loadgen: ") || strings.Count(stderr, "\n") != 1 ||
			stackTrace.MatchString(stderr) {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestRunWritesOutputs(t *testing.T) {
	addr := fake(t)
	dir := t.TempDir()
	jsonPath, svgPath, prefix := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg"), filepath.Join(dir, "r")
	code, out, stderr := invoke("-target", addr, "-ops", "2000", "-conns", "2", "-mix", "get=3,set=1",
		"-preload", "100", "-keys", "100", "-json", jsonPath, "-hgrm", prefix, "-svg", svgPath, "-sla", "p99<10s", "-quiet")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "closed-loop") || !strings.Contains(out, "PASS") {
		t.Errorf("summary:\n%s", out)
	}
	var s struct {
		Mode     string
		Ops      int64
		SLAPass  *bool `json:"sla_pass"`
		Workload struct{ Conns int }
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil || json.Unmarshal(data, &s) != nil || s.Mode != "closed-loop" || s.Ops != 2000 ||
		s.SLAPass == nil || !*s.SLAPass || s.Workload.Conns != 2 {
		t.Errorf("json %s (%v)", data, err)
	}
	for _, f := range []string{"r.get.hgrm", "r.set.hgrm", "r.all.hgrm", "r.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSLAMissExits1(t *testing.T) {
	addr := fake(t)
	code, out, stderr := invoke("-target", addr, "-ops", "200", "-conns", "1", "-sla", "p50<1ns", "-quiet")
	if code != exitSLAMissed || !strings.Contains(out, "MISS") || !strings.Contains(stderr, "SLA missed") {
		t.Errorf("exit %d\n%s\n%s", code, out, stderr)
	}
}

func TestFlagsOverrideProfile(t *testing.T) {
	addr := fake(t)
	dir := t.TempDir()
	prof := filepath.Join(dir, "p.toml")
	os.WriteFile(prof, []byte(`
[workload]
targets = ["`+addr+`"]
conns = 4
ops = 400
mix = "get=1"
[sla]
rules = ["p50<1ns"]
[cluster]
n = 3
r = 2
w = 2
durability = "wal"
`), 0o600)
	jsonPath := filepath.Join(dir, "r.json")
	code, _, stderr := invoke("-profile", prof, "-conns", "2", "-sla", "p99<10s", "-json", jsonPath, "-quiet")
	if code != exitOK {
		t.Fatalf("exit %d: %s (the -sla flag should replace the profile's failing rule)", code, stderr)
	}
	data, _ := os.ReadFile(jsonPath)
	if !strings.Contains(string(data), `"conns": 2`) || !strings.Contains(string(data), `"ops": 400`) {
		t.Errorf("profile values not combined with flags:\n%s", data)
	}
}

func TestCompareMode(t *testing.T) {
	a, b := fake(t), fake(t)
	jsonPath := filepath.Join(t.TempDir(), "c.json")
	code, out, stderr := invoke("-compare", "one="+a+",two="+b, "-rounds", "2", "-duration", "100ms",
		"-conns", "2", "-json", jsonPath, "-quiet")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "ratio one/two") || !strings.Contains(out, "median of 2 rounds") {
		t.Errorf("compare table:\n%s", out)
	}
	data, _ := os.ReadFile(jsonPath)
	var c struct {
		Targets []struct{ Name string }
	}
	if json.Unmarshal(data, &c) != nil || len(c.Targets) != 2 {
		t.Errorf("compare json %s", data)
	}
}
