package memcache

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// failingKey is a store whose reads of one key fail.
type failingKey struct {
	kv.KV
	key string
}

func (f failingKey) Get(key []byte, o *kv.Object, r kv.ReadOptions) error {
	if string(key) == f.key {
		return errors.New("replica unreachable")
	}
	return f.KV.Get(key, o, r)
}

// TestGetManyMatchesSequential: a multi-key get whose keys are read at
// once (Session.Fanout) replies byte for byte as one that reads them in
// turn, over more keys than a window, with misses, gets with cas, a value
// large enough to spill and a key whose read fails; and counts the same.
func TestGetManyMatchesSequential(t *testing.T) {
	concurrent := func(n int, f func(int)) {
		var wg sync.WaitGroup
		for i := n - 1; i >= 0; i-- { // started backwards: finish order is not request order
			wg.Go(func() { f(i) })
		}
		wg.Wait()
	}
	seq, con := newHarness(t), newHarness(t)
	con.s.Fanout = concurrent
	var setup, get strings.Builder
	get.WriteString("gets")
	for i := range 3*fanoutWindow + 5 {
		if i%3 != 0 { // every third key is a miss
			fmt.Fprintf(&setup, "set k%d %d 0 %d\r\n%s\r\n", i, i, len(fmt.Sprint(i)), fmt.Sprint(i))
		}
		fmt.Fprintf(&get, " k%d", i)
	}
	big := strings.Repeat("b", SpillBytes/2+1) // two of them pass SpillBytes
	setup.WriteString(fmt.Sprintf("set big1 0 0 %d\r\n%s\r\nset big2 0 0 %d\r\n%s\r\n", len(big), big, len(big), big))
	get.WriteString(" big1 big2 k1\r\n")
	seq.do(setup.String())
	con.do(setup.String())
	var sinkSeq, sinkCon collect
	seq.s.Sink, con.s.Sink = &sinkSeq, &sinkCon
	for _, req := range []string{get.String(), strings.Replace(get.String(), "gets", "get", 1)} {
		want := sinkSeq.take(seq.do(req))
		if got := sinkCon.take(con.do(req)); got != want {
			t.Fatalf("%.40q...: replies differ (%d bytes read at once, %d in turn)", req, len(got), len(want))
		}
	}
	for _, name := range []string{"get_hits", "get_misses", "cmd_get"} {
		if a, b := statOf(seq), statOf(con); a[name] != b[name] {
			t.Fatalf("%s: %s in turn, %s at once", name, a[name], b[name])
		}
	}
	// A read that fails mid-window: one error line, as in turn.
	seq.e = NewExecutor(failingKey{seq.kv, "k7"}, Options{Now: func() time.Time { return seq.now }, Retries: 4})
	con.e = NewExecutor(failingKey{con.kv, "k7"}, Options{Now: func() time.Time { return con.now }, Retries: 4})
	seq.s.Sink, con.s.Sink = nil, nil
	req := "get k1 k2 k7 k8\r\n"
	if want, got := seq.do(req), con.do(req); got != want || !strings.HasPrefix(got, "SERVER_ERROR") {
		t.Fatalf("failed read: %q at once, %q in turn", got, want)
	}
}

// collect is a ReplySink that keeps what was spilled.
type collect struct{ b strings.Builder }

func (c *collect) Spill(reply []byte) []byte { c.b.Write(reply); return nil }

// take returns everything spilled so far followed by rest.
func (c *collect) take(rest string) string {
	s := c.b.String() + rest
	c.b.Reset()
	return s
}

// statOf reads the executor's stats.
func statOf(h *harness) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(h.do("stats\r\n"), "\r\n") {
		if f := strings.Fields(l); len(f) == 3 {
			out[f[1]] = f[2]
		}
	}
	return out
}
