package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire"
)

func TestInSync(t *testing.T) {
	a, b := []byte("record-a"), []byte("record-b")
	boom := errors.New("unreachable")
	for _, tc := range []struct {
		name string
		got  []reply
		want bool
	}{
		{"all identical", []reply{{rec: a, ok: true}, {rec: []byte("record-a"), ok: true}, {rec: a, ok: true}}, true},
		{"one differs", []reply{{rec: a, ok: true}, {rec: b, ok: true}}, false},
		{"one lacks the key", []reply{{rec: a, ok: true}, {ok: false}}, false},
		{"one failed", []reply{{rec: a, ok: true}, {err: boom}}, false},
		{"none has the key", []reply{{ok: false}, {ok: false}}, false},
	} {
		if got := inSync(tc.got); got != tc.want {
			t.Errorf("%s: inSync = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Handoff yields to the foreground: after windows whose client p99 is
// over the target it moves records at its floor rate, and once the
// foreground is quiet again at its full rate. Time is the test's own: no
// window closes and no handoff round runs by itself (a batch of 100 an
// hour, so the rates are per hour).
func TestHandoffYieldsToForeground(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 2, R: 1, W: 1, HandoffBatch: 100, HandoffInterval: time.Hour,
		BackgroundTarget: 10 * time.Millisecond, BackgroundPeriod: -1})
	x := c.nodes[0]
	now := time.Unix(1_000_000, 0)
	x.node.bgw.now = func() time.Time { return now }
	for i := range 400 {
		if _, err := x.put(t, fmt.Sprintf("k%d", i), set("v")); err != nil {
			t.Fatal(err)
		}
	}
	c.leaveRing(0)
	// The owners that gained x's partitions pull them, and refuse the
	// handoff's questions until they have; here they lack them all.
	for _, tn := range c.nodes[1:] {
		tn.node.skipCatchUp()
	}
	windows := func(latency time.Duration, count int) {
		for range 20 {
			for range count {
				x.node.bgw.ctl.Foreground.Record(latency)
			}
			now = now.Add(admitPeriod)
			x.node.bgw.ctl.Tick(now)
		}
	}
	windows(100*time.Millisecond, 1000) // a loaded node, over its target
	if moved := x.node.HandOff(); moved != 100 {
		t.Fatalf("first round moved %d, want a full batch of 100 (the grant a quiet node saved)", moved)
	}
	now = now.Add(time.Hour)
	if moved := x.node.HandOff(); moved < 1 || moved > 5 {
		t.Fatalf("an hour later, under load, moved %d; want the floor, 100/h ÷ 20 = 5", moved)
	}
	windows(time.Millisecond, 1000) // the load is gone
	now = now.Add(time.Hour)
	if moved := x.node.HandOff(); moved != 100 {
		t.Fatalf("an hour after the load ended, moved %d; want the full 100", moved)
	}
}

// skipCatchUp marks every partition n is catching up as caught up,
// without pulling: for tests of what comes after, with the records
// still missing.
func (n *Node) skipCatchUp() {
	n.noteRing(n.topo.Topology())
	n.ready.mu.Lock()
	defer n.ready.mu.Unlock()
	clear(n.ready.pending)
	n.ready.unready.Store(nil)
}

// The regular anti-entropy pass runs under the admission controller: each
// exchange is charged the records it reads and takes, and a node whose
// clients are slow runs fewer, at the floor, while a quiet one keeps its
// cycle.
func TestAntiEntropyYieldsToForeground(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 2, W: 2, AntiEntropyInterval: time.Hour, AntiEntropyRate: 640,
		BackgroundTarget: 10 * time.Millisecond, BackgroundPeriod: -1})
	x := c.nodes[0]
	now := time.Unix(1_000_000, 0)
	x.node.bgw.now = func() time.Time { return now }
	for i := range 640 { // about ten records in each of the 64 partitions
		if _, err := x.put(t, fmt.Sprintf("k%d", i), set("v")); err != nil {
			t.Fatal(err)
		}
	}
	windows := func(latency time.Duration) {
		for range 20 {
			for range 1000 {
				x.node.bgw.ctl.Foreground.Record(latency)
			}
			now = now.Add(admitPeriod)
			x.node.bgw.ctl.Tick(now)
		}
	}
	// exchanges runs five one-second ticks of the loop (each owes a whole
	// pass: the interval is an hour) and counts the exchanges made.
	exchanges := func() uint64 {
		before := x.node.stats.aaeRounds.Load()
		for range 5 {
			now = now.Add(time.Second)
			x.node.aaeTick()
		}
		return x.node.stats.aaeRounds.Load() - before
	}
	windows(100 * time.Millisecond) // loaded: over the target
	x.node.aaeTick()                // spend what the quiet start saved
	loaded := exchanges()
	windows(time.Millisecond) // the load is gone
	now = now.Add(time.Minute)
	quiet := exchanges()
	// At the floor, 32 records a second; an exchange costs the records its
	// first tree of a partition scans (about ten), and one once the tree
	// is kept: 20 to 30 exchanges in 5 s, against 200 to 280 at the
	// ceiling (640 a second, a burst of 160).
	if loaded > 40 || quiet < 4*loaded || x.node.stats.aaeDeferred.Load() == 0 {
		t.Fatalf("exchanges in 5 s: %d loaded, %d quiet (deferred %d); want at most 40 loaded, 4 times that quiet",
			loaded, quiet, x.node.stats.aaeDeferred.Load())
	}
}

// TestInlineAnswersAsServeDoes: a fetch or digest that Inline answers on
// the connection's reader gets the bytes the worker path (serve) would
// have sent, for records in the cache, a deleted key and own fetches;
// what the cache does not hold (a key never written) it declines.
func TestInlineAnswersAsServeDoes(t *testing.T) {
	c := newTestCluster(t, 1, Options{N: 1, R: 1, W: 1})
	x := c.nodes[0]
	for i := range 20 {
		if _, err := x.put(t, fmt.Sprintf("k%d", i), set(fmt.Sprintf("value %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := x.put(t, "k3", kv.PutRequest{Delete: true}); err != nil {
		t.Fatal(err)
	}
	inlined := map[string]int{}
	for _, key := range []string{"k0", "k3", "k7", "k19", "never"} {
		for _, typ := range []wire.MsgType{msg.Fetch, msg.Digest} {
			for _, req := range [][]byte{msg.AppendFetch(nil, []byte(key)), msg.AppendFetchOwn(nil, []byte(key))} {
				want, err := x.node.serve(typ, req, nil)
				if err != nil {
					t.Fatalf("serve %d %q: %v", typ, key, err)
				}
				rt, got, ok := x.node.Inline(typ, req, []byte("dst:"))
				if !ok {
					continue
				}
				inlined[key]++
				if rt != typ || string(got) != "dst:"+string(want) {
					t.Errorf("Inline(%d, %q) = %d %x, serve gives %x", typ, key, rt, got, want)
				}
			}
		}
	}
	if inlined["k0"] != 4 || inlined["k19"] != 4 || inlined["never"] != 0 {
		t.Errorf("Inline answered %v of 4 requests per key; want all of k0's and k19's and none of never's", inlined)
	}
	if rt, _, ok := x.node.Inline(msg.Merge, nil, nil); ok {
		t.Errorf("Inline answered a merge (type %d)", rt)
	}
}
