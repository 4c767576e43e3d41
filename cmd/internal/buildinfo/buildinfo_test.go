package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "c1e4c33aaaabbbbccccdddd"},
		{Key: "vcs.time", Value: "2026-12-06T16:48:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	if got, want := describe(bi), "(devel) (commit c1e4c33aaaab+changes, 2026-12-06T16:48:00Z, go1.26.0)"; got != want {
		t.Fatalf("describe = %q, want %q", got, want)
	}
	bare := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.3.0"}}
	if got, want := describe(bare), "v0.3.0 (go1.26.0)"; got != want {
		t.Fatalf("describe = %q, want %q", got, want)
	}
	if l := Line("dynctl"); !strings.HasPrefix(l, "dynctl ") || strings.Contains(l, "\n") {
		t.Fatalf("Line = %q", l)
	}
}

func TestAsked(t *testing.T) {
	for args, want := range map[string]bool{
		"-version": true, "--version": true, "-node x -version": true, "-version=true": true,
		"-node x": false, "-- -version": false, "-version=false": false,
	} {
		if got := Asked(strings.Fields(args)); got != want {
			t.Errorf("Asked(%q) = %v", args, got)
		}
	}
}
