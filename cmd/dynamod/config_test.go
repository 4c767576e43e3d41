package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

func TestParseSize(t *testing.T) {
	tests := map[string]int64{"1048576": 1 << 20, "64k": 64 << 10, "64m": 64 << 20, "1g": 1 << 30, "2MiB": 2 << 20, "8KB": 8 << 10}
	for in, want := range tests {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "12x", "m", "99999999999g"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "node.toml")
	os.WriteFile(file, []byte("durability = \"sync\"\nbuffer-bytes = \"8m\"\nflush-interval = \"5ms\"\nmax-conns = 77\nlisten = \"127.0.0.1:1\"\n"), 0o644)
	c, err := loadConfig([]string{"-config", file, "-listen", "127.0.0.1:2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Durability != kv.Sync || c.BufferBytes != 8<<20 || c.FlushEvery != 5*time.Millisecond || c.MaxConns != 77 {
		t.Fatalf("file settings not applied: %+v", c)
	}
	if c.Listen != "127.0.0.1:2" {
		t.Fatalf("command line did not win over the file: %s", c.Listen)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-durability", "fast"}, "durability must be buffered, wal or sync"},
		{[]string{"-buffer-bytes", "lots"}, "is not a size"},
		{[]string{"-max-conns", "0"}, "-max-conns must be at least 1"},
		{[]string{"-anti-entropy-cycle", "10ms"}, "-anti-entropy-cycle must be at least 1s"},
		{[]string{"-log-format", "xml"}, `-log-format must be text or json, not "xml"`},
		{[]string{"-log-level", "loud"}, "log-level"},
		{[]string{"stray"}, "unexpected argument"},
		{[]string{"-config", write("unknown.toml", "colour = \"blue\"\n")}, `unknown setting "colour"`},
		{[]string{"-config", write("broken.toml", "listen = \n")}, "config file"},
		{[]string{"-config", filepath.Join(dir, "missing.toml")}, "no such file"},
		{[]string{"-config", write("badval.toml", "durability = \"often\"\n")}, "durability"},
	}
	for _, tc := range tests {
		_, err := loadConfig(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-help"}, &out); code != 0 || !strings.Contains(out.String(), "-durability") {
		t.Fatalf("-help: code %d, output %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"-durability", "x"}, &out); code != 2 || !strings.HasPrefix(out.String(), "dynamod: ") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("bad flag: code %d, output %q", code, out.String())
	}
}

func TestGossipKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	raw := []byte("0123456789abcdef")
	if k, err := gossipKey(write("raw", raw)); err != nil || string(k) != string(raw) {
		t.Fatalf("raw key: %q %v", k, err)
	}
	if k, err := gossipKey(write("b64", []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"))); err != nil || len(k) != 32 {
		t.Fatalf("base64 key: %d bytes, %v", len(k), err)
	}
	if _, err := gossipKey(write("short", []byte("too short"))); err == nil || !strings.Contains(err.Error(), "want 16, 24 or 32 bytes") {
		t.Fatalf("short key: %v", err)
	}
	if k, err := gossipKey(""); k != nil || err != nil {
		t.Fatal("no key file should mean no encryption")
	}
}
