package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// dynamod logs structured lines: with -log-format json every stderr line
// is a JSON object with time, level and msg, and the events an operator
// acts on carry their values as fields.
func TestLogsAreStructured(t *testing.T) {
	addr := freePort(t)
	p := startProcess(t, addr, "-listen", addr, "-data", t.TempDir(), "-log-format", "json")
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("dynamod exited with %v: %s", err, p.logs.String())
	}
	msgs := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(p.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line that is not JSON: %q (%v)", line, err)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Fatalf("log line without %q: %q", k, line)
			}
		}
		msgs[rec["msg"].(string)] = rec
	}
	serving, ok := msgs["serving the memcached protocol"]
	if !ok || serving["addr"] != addr || serving["durability"] == nil {
		t.Fatalf("no start-up line with the address and durability: %v", msgs)
	}
	if _, ok := msgs["stopped cleanly"]; !ok {
		t.Fatalf("no clean-stop line: %v", msgs)
	}
}

// -log-level warn leaves a clean start and stop silent.
func TestLogLevelFilters(t *testing.T) {
	addr := freePort(t)
	p := startProcess(t, addr, "-listen", addr, "-data", t.TempDir(), "-log-level", "warn")
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("dynamod exited with %v: %s", err, p.logs.String())
	}
	if out := p.logs.String(); out != "" {
		t.Fatalf("-log-level warn logged on a clean start and stop: %q", out)
	}
}

// A second dynamod on a data directory in use says which process has it,
// and leaves the first one serving.
func TestDataDirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	p := startProcess(t, addr, "-listen", addr, "-data", dir)
	var out strings.Builder
	if code := run([]string{"-listen", freePort(t), "-data", dir}, &out); code != 1 {
		t.Fatalf("second dynamod on %s: exit %d, %s", dir, code, out.String())
	}
	want := fmt.Sprintf("data directory %s is in use by another dynamod (pid %d)", dir, p.cmd.Process.Pid)
	if !strings.Contains(out.String(), want) || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("second dynamod said %q, want one line with %q", out.String(), want)
	}
	m := dialMC(t, addr)
	if err := m.set("k", "v"); err != nil {
		t.Fatalf("the first dynamod after the refusal: %v", err)
	}
}
