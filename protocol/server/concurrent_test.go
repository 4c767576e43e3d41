package server

import (
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
)

// TestConcurrentBatchesMatchSequential sends the same random pipelines to
// a server that runs batches in order and to one that runs their
// independent commands at once over a store that answers each call after
// a random pause, so that calls finish out of order: every reply must be
// the same, byte for byte.
func TestConcurrentBatchesMatchSequential(t *testing.T) {
	clock := func() time.Time { return time.Unix(1_700_000_000, 0) }
	seqKV, conKV := fakekv.New(clock), fakekv.New(clock)
	rng, jrng := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(3, 4))
	var mu sync.Mutex // jrng's: the store's callers share it
	jitter := func() {
		mu.Lock()
		d := time.Duration(jrng.IntN(300)) * time.Microsecond
		mu.Unlock()
		time.Sleep(d)
	}
	conKV.SetFaults(fakekv.Faults{
		BeforeGet: func([]byte) { jitter() },
		BeforePut: func([]byte, *kv.PutRequest) { jitter() },
	})
	seq := dial(t, start(t, seqKV, Options{Now: clock}))
	con := dial(t, start(t, conKV, Options{Now: clock, ConcurrentBatches: true}))

	keys := []string{"a", "b", "c", "d"}
	ops := []string{
		"get %s", "gets %s", "set %s 0 0 1\r\nv", "add %s 0 0 1\r\nw", "append %s 0 0 1\r\n+",
		"delete %s", "incr %s 3", "set %s 0 0 1\r\n7", "mg %s v c", "ms %s 2 MA\r\nxy",
		"md %s q", "ma %s N0 J5", "get %s %s", "touch %s 100", "version", "mn", "bogus",
		"set %s 0 0 1 noreply\r\nn", "flush_all 0", "getv %s %s", "getv %s",
	}
	for round := range 300 {
		var req strings.Builder
		for range 1 + rng.IntN(40) {
			op := ops[rng.IntN(len(ops))]
			for strings.Contains(op, "%s") {
				op = strings.Replace(op, "%s", keys[rng.IntN(len(keys))], 1)
			}
			req.WriteString(op + "\r\n")
		}
		req.WriteString("mn\r\n") // the end of this round's replies
		want := withoutCAS(roundTrip(t, seq, req.String()))
		if got := withoutCAS(roundTrip(t, con, req.String())); got != want {
			t.Fatalf("round %d, pipeline\n%s\nsequential replies\n%s\nconcurrent replies\n%s", round, req.String(), want, got)
		}
	}
}

// withoutCAS blanks the cas uniques, getv's contexts and its siblings'
// timestamps: the store numbers every write of every key from one
// counter, so writes of different keys that ran in another order get
// other numbers.
func withoutCAS(replies string) string {
	lines := strings.SplitAfter(replies, "\r\n")
	for i, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) == 5 && f[0] == "VALUE":
			f[4] = "CAS"
		case len(f) == 4 && f[0] == "CONTEXT":
			f[3] = "CONTEXT"
		case len(f) >= 5 && f[0] == "SIBLING":
			f[4] = "TIMESTAMP"
		case len(f) > 1 && (f[0] == "VA" || f[0] == "HD"):
			for j := range f {
				if strings.HasPrefix(f[j], "c") {
					f[j] = "cCAS"
				}
			}
		default:
			continue
		}
		lines[i] = strings.Join(f, " ") + "\r\n"
	}
	return strings.Join(lines, "")
}

// roundTrip sends a pipeline ending in mn and returns every reply up to
// and including its last MN. It counts whole lines: a context token can
// end in "MN" (one did, and the test waited for an MN that never came).
// On a timeout it shows every goroutine, the server's included.
func roundTrip(t *testing.T, c *client, req string) string {
	t.Helper()
	c.send(req)
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	want := 0 // the pipeline's mn commands
	for _, l := range strings.Split(req, "\r\n") {
		if l == "mn" {
			want++
		}
	}
	var out strings.Builder
	for got := 0; ; {
		line, err := c.r.ReadString('\n')
		if err != nil {
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 2)
			t.Fatalf("pipeline %q: after %q: %v\n%s", req, out.String(), err, stacks.String())
		}
		out.WriteString(line)
		if line == "MN\r\n" {
			if got++; got == want {
				return out.String()
			}
		}
	}
}

// rendezvous is a store hook that holds each caller until n have
// arrived, giving up after 10 s (then timedOut reports it).
type rendezvous struct {
	mu       sync.Mutex
	n        int
	arrived  int
	all      chan struct{}
	timedOut bool
}

func newRendezvous(n int) *rendezvous { return &rendezvous{n: n, all: make(chan struct{})} }

func (r *rendezvous) wait([]byte) {
	r.mu.Lock()
	if r.arrived++; r.arrived == r.n {
		close(r.all)
	}
	r.mu.Unlock()
	select {
	case <-r.all:
	case <-time.After(10 * time.Second):
		r.mu.Lock()
		r.timedOut = true
		r.mu.Unlock()
	}
}

func (r *rendezvous) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timedOut
}

// TestMultiGetReadsAtOnce: with ConcurrentBatches a get of several keys
// reads them together (memcache.Options.Fanout over the worker pool).
func TestMultiGetReadsAtOnce(t *testing.T) {
	const n = 8
	db := fakekv.New(nil)
	r := newRendezvous(n)
	c := dial(t, start(t, db, Options{ConcurrentBatches: true}))
	c.send("set k3 0 0 1\r\nx\r\n")
	c.expect("STORED\r\n")
	db.SetFaults(fakekv.Faults{BeforeGet: r.wait})
	req := "get"
	for i := range n {
		req += fmt.Sprintf(" k%d", i)
	}
	c.send(req + "\r\n")
	c.expect("VALUE k3 0 1\r\nx\r\nEND\r\n")
	if r.failed() {
		t.Fatalf("the %d keys of one get did not reach the store together", n)
	}
}

// TestConcurrentBatchesRunAtOnce shows that a pipeline of gets of
// different keys is served by calls in flight together: each get waits
// until all eight are in the store. Run one at a time, the first would
// wait forever; the rendezvous gives up after 10 s and the test fails.
func TestConcurrentBatchesRunAtOnce(t *testing.T) {
	const n = 8
	db := fakekv.New(nil)
	r := newRendezvous(n)
	db.SetFaults(fakekv.Faults{BeforeGet: r.wait})
	c := dial(t, start(t, db, Options{ConcurrentBatches: true}))
	var req, want strings.Builder
	for i := range n {
		fmt.Fprintf(&req, "get k%d\r\n", i)
		want.WriteString("END\r\n")
	}
	c.send(req.String())
	c.expect(want.String())
	if r.failed() {
		t.Fatalf("the %d gets of one pipeline did not reach the store together", n)
	}
}
