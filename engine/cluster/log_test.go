package cluster

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A tally logs its first count at once, then sums counts by peer and
// logs the sums at most once per logEvery.
func TestTallySumsByPeerBetweenLines(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	var tl tally
	tl.add(l, slog.LevelInfo, "hints delivered", "n2", 1)
	tl.add(l, slog.LevelInfo, "hints delivered", "n2", 3)
	tl.add(l, slog.LevelInfo, "hints delivered", "n3", 2)
	tl.add(l, slog.LevelInfo, "hints delivered", "n3", 0)
	if got := strings.Count(buf.String(), "\n"); got != 1 {
		t.Fatalf("%d lines within logEvery, want 1:\n%s", got, buf.String())
	}
	tl.mu.Lock()
	tl.last = tl.last.Add(-logEvery) // as if logEvery had passed
	tl.mu.Unlock()
	tl.add(l, slog.LevelInfo, "hints delivered", "n2", 1)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "n2=1 total=1") || !strings.Contains(lines[1], "n2=4 n3=2 total=6") {
		t.Fatalf("lines:\n%s", buf.String())
	}
}
