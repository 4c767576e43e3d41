package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildBins compiles dynamod and loadgen into a temporary bin directory.
func buildBins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "../dynamod", "../loadgen").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func writeProfile(t *testing.T, sla string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.toml")
	body := `[workload]
duration = "1s"
warmup = "200ms"
rate = 300
conns = 4
mix = "get=3,set=1"
keys = 1000
preload = 1000
timeout = "2s"

[sla]
rules = ["` + sla + `"]

[cluster]
n = 3
r = 2
w = 2
durability = "wal"
durable_replicas = 1
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProfileEndToEnd starts a real 3-node cluster from a profile, runs
// loadgen against it, and turns the SLA verdict into the exit status.
func TestProfileEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	bin := buildBins(t)
	var out, errOut strings.Builder
	if code := run([]string{"-bin", bin, writeProfile(t, "errors<1%")}, &out, &errOut); code != 0 {
		t.Fatalf("a met SLA exited %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "3-node (N=3 R=2 W=2, wal, 1 durable replicas)") || !strings.Contains(out.String(), "PASS") {
		t.Fatalf("report: %s", out.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"-bin", bin, writeProfile(t, "max<1us")}, &out, &errOut); code != 1 {
		t.Fatalf("an impossible SLA exited %d, want 1\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "MISS") {
		t.Fatalf("report: %s", out.String())
	}
}

func TestBadInput(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(nil, &out, &errOut); code != 2 || strings.Count(errOut.String(), "\n") != 1 {
		t.Fatalf("no profile: code %d, %q", code, errOut.String())
	}
	errOut.Reset()
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[workload]\ncolour = 1\n"), 0o644)
	if code := run([]string{bad}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "colour") {
		t.Fatalf("bad profile: code %d, %q", code, errOut.String())
	}
}
