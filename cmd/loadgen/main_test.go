package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/loadgen/fakeserver"
	"github.com/dynamo-kv/dynamo/loadgen/report"
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

// errorsOnly serves a target that answers every request line with a
// server error, as a memcached out of memory does.
func errorsOnly(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := c.Write([]byte("SERVER_ERROR out of memory storing object\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// A run whose every request failed, or with more failures than allowed,
// exits 1 and says why, with or without an SLA (it exited 0 before).
func TestFailedRunsExit1(t *testing.T) {
	addr := errorsOnly(t)
	code, out, stderr := invoke("-target", addr, "-ops", "300", "-conns", "1", "-mix", "get=1", "-quiet", "-preload", "0")
	if code != exitSLAMissed || !strings.Contains(stderr, "all 300 operations failed: ") || out == "" {
		t.Errorf("all failed: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	code, _, stderr = invoke("-target", addr, "-ops", "300", "-conns", "1", "-mix", "get=1", "-quiet", "-max-errors", "100%", "-preload", "0")
	if code != exitOK {
		t.Errorf("-max-errors 100%%: exit %d, %s", code, stderr)
	}
	code, _, stderr = invoke("-target", fake(t), "-ops", "300", "-conns", "1", "-mix", "get=1", "-quiet")
	if code != exitOK {
		t.Errorf("a healthy target: exit %d, %s", code, stderr)
	}
}

func TestErrorVerdict(t *testing.T) {
	sum := func(ops, failed int64) *report.Summary {
		s := &report.Summary{Ops: ops, Errors: map[string]int64{}}
		s.All.Failed = failed
		if failed > 0 {
			s.Errors["timeout"] = failed
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		s       *report.Summary
		allowed float64
		want    string // substring of the verdict; "" passes
	}{
		{"clean", sum(10_000, 0), 0.001, ""},
		{"at the limit", sum(10_000, 10), 0.001, ""},
		{"over it", sum(10_000, 11), 0.001, "11 of 10000 operations failed (0.11%), more than -max-errors 0.1% allows: timeout 11"},
		{"all failed", sum(154_106, 154_106), 0.001, "all 154106 operations failed: timeout 154106"},
		{"nothing completed", sum(0, 0), 0.001, "no operation completed"},
		{"anything goes", sum(100, 100), 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorVerdict(tc.s, tc.allowed)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("verdict %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMaxErrorsFlag(t *testing.T) {
	for in, want := range map[string]float64{"0.1%": 0.001, "5%": 0.05, "0.02": 0.02, "100%": 1, "0": 0} {
		var f shareFlag
		if err := f.Set(in); err != nil || math.Abs(float64(f)-want) > 1e-12 {
			t.Errorf("%q: %v %v, want %v", in, float64(f), err, want)
		}
	}
	for _, in := range []string{"", "x", "101%", "-1%", "1.5"} {
		var f shareFlag
		if err := f.Set(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	code, _, stderr := invoke("-target", "127.0.0.1:1", "-max-errors", "200%")
	if code != exitBadInput || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "-max-errors") {
		t.Errorf("bad -max-errors: exit %d, %q", code, stderr)
	}
}

// A workload that reads preloads its key space unless told otherwise, and
// says so while it does; one that only writes does not.
func TestPreloadByDefault(t *testing.T) {
	addr := fake(t)
	code, _, stderr := invoke("-target", addr, "-ops", "200", "-conns", "2", "-keys", "150")
	if code != exitOK || !strings.Contains(stderr, "preloading 150 keys into "+addr) || !strings.Contains(stderr, "preloaded 150 keys in ") {
		t.Fatalf("default mix: exit %d, stderr:\n%s", code, stderr)
	}
	for _, args := range [][]string{
		{"-mix", "set=1"},
		{"-preload", "0"},
	} {
		code, _, stderr := invoke(append([]string{"-target", addr, "-ops", "200", "-conns", "2", "-keys", "150"}, args...)...)
		if code != exitOK || strings.Contains(stderr, "preload") {
			t.Fatalf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
	}
}
