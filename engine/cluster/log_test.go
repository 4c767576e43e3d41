package cluster

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire/wiretest"
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

// Counts that arrive after a line and are followed by no other count are
// logged by the periodic flush once their window passes, not left unsaid
// (a node logged "by source n1=1 total=1" while 84 were counted).
func TestTallyFlushSaysWhatCameAfterTheLastLine(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	var g logs
	g.catchUpSkipped.add(l, slog.LevelWarn, "caught up without a source", "n1", 1)
	g.catchUpSkipped.add(l, slog.LevelWarn, "caught up without a source", "n1", 40)
	g.catchUpSkipped.add(l, slog.LevelWarn, "caught up without a source", "n2", 43)
	start := time.Now()
	g.flush(l, start.Add(logEvery/2))
	if got := strings.Count(buf.String(), "\n"); got != 1 {
		t.Fatalf("%d lines before the window passed, want 1:\n%s", got, buf.String())
	}
	g.flush(l, start.Add(logEvery+time.Second))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "level=WARN") || !strings.Contains(lines[1], "n1=40 n2=43 total=83") {
		t.Fatalf("lines:\n%s", buf.String())
	}
	g.flush(l, start.Add(3*logEvery))
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("a flush with nothing counted logged:\n%s", buf.String())
	}
}

// A request over Options.SlowRequest is logged with what its replicas
// did: here a replica that never answers makes a W=3 write and an R=3
// read (on two coordinators: a failed call marks the replica suspected,
// and the next request fails at once) wait out the replica timeout, and
// each line names it.
func TestSlowRequestsAreLoggedWithTheirReplicas(t *testing.T) {
	var buf lockedBuffer
	c := newTestCluster(t, 3, Options{N: 3, R: 3, W: 3, SlowRequest: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	writer, reader, hung := c.nodes[0], c.nodes[1], c.nodes[2]
	if _, err := writer.put(t, "k", set("v")); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "slow request") {
		t.Fatalf("a fast write was logged as slow:\n%s", buf.String())
	}
	writer.net.Set(hung.addr, wiretest.Fault{BlackHole: true})
	reader.net.Set(hung.addr, wiretest.Fault{BlackHole: true})
	if _, err := writer.put(t, "k", set("v2")); err == nil {
		t.Fatal("a W=3 write succeeded with a replica black-holed")
	}
	var o kv.Object
	if err := reader.node.Get([]byte("k"), &o, kv.ReadOptions{}); err == nil {
		t.Fatal("an R=3 read succeeded with a replica black-holed")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.Contains(l, "slow request") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d slow-request lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range [][2]string{{"op=put", `replicas="W=3: ` + writer.id + " acked"}, {"op=get", `replicas="R=3: `}} {
		l := lines[i]
		// The hung replica is named as failed or still awaited.
		if !strings.Contains(l, want[0]) || !strings.Contains(l, want[1]) ||
			!strings.Contains(l, hung.id+" failed") && !strings.Contains(l, "waiting "+hung.id) ||
			!strings.Contains(l, "err=") {
			t.Errorf("line %d does not say what its replicas did (want %s):\n%s", i, want, l)
		}
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
