package sim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Probes of conditional commands on the healed cluster, the fault
// harness's own: the checker over the faults allows what a partition
// weakens (two incr decided on opposite sides may answer the same
// number), so a coordinator that decides conditional writes alone would
// pass it. Once every node is up and the replicas agree, conditional
// commands through two nodes at once must do exactly what they do
// through one: incr hands out each number once and loses none, add
// stores a new key once, and cas refuses a token from before another
// node's set.

const (
	probeIncrs = 40 // per node
	probeAdds  = 10 // rounds of two concurrent adds
)

// probeConditionals runs the probes through the first and the last node
// that have run. It returns what went wrong, and how many probe requests
// failed as unavailable: those the probe cannot judge (a failed write may
// still have been applied), counted but not failures.
func (c *Cluster) probeConditionals() (bad []string, unavailable int) {
	live := c.live()
	defer func() {
		if len(bad) > 0 {
			c.traceViews("after the probes")
		}
	}()
	a, b := c.node(live[0]).KV(), c.node(live[len(live)-1]).KV()
	var mu sync.Mutex
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	// judge sorts one answer: true when it can be judged.
	judge := func(what string, err error, allowed ...error) bool {
		switch {
		case err == nil:
			return true
		case errors.Is(err, kv.ErrUnavailable):
			unavailable++
			return false
		}
		for _, a := range allowed {
			if errors.Is(err, a) {
				return true
			}
		}
		fail("probe: %s: %v", what, err)
		return false
	}

	// Converged means gossip sees every node up; a node's transport may
	// still skip a peer it saw time out until its backoff ends (up to a
	// second; docs/architecture.md, failure detection).
	time.Sleep(2 * time.Second)
	c.traceViews("before the probes")

	// incr: both nodes at once on one counter.
	const ctr = "probe-incr"
	if _, err := a.Put([]byte(ctr), &kv.PutRequest{Value: []byte("0"), SupersedeAll: true, W: c.sc.N}); !judge("setting the counter", err) {
		return bad, unavailable
	}
	var got []uint64
	unsure := 0 // increments that may or may not have been applied
	both(a, b, func(k kv.KV) {
		for range probeIncrs {
			res, err := k.Put([]byte(ctr), &kv.PutRequest{Arith: &kv.Arith{Delta: 1}})
			mu.Lock()
			if judge("incr", err) {
				got = append(got, res.Number)
			} else {
				unsure++
			}
			mu.Unlock()
		}
	})
	slices.Sort(got)
	if d := len(got) - len(slices.Compact(slices.Clone(got))); d > 0 {
		fail("probe: %d incr answers handed out a number already given", d)
	}
	var obj kv.Object
	if err := a.Get([]byte(ctr), &obj, kv.ReadOptions{}); judge("reading the counter", err) {
		w, _ := obj.Winner()
		if n, err := strconv.Atoi(string(w.Value)); err != nil || n < len(got) || n > len(got)+unsure {
			fail("probe: counter at %q after %d acknowledged increments and %d unsure", w.Value, len(got), unsure)
		}
	}

	// add: the same new key through both nodes at once, stored once.
	for i := range probeAdds {
		key := []byte(fmt.Sprintf("probe-add-%d", i))
		var stored, refused, unjudged int
		both(a, b, func(k kv.KV) {
			_, err := k.Put(key, &kv.PutRequest{Value: []byte("x"), Cond: kv.CondAbsent, SupersedeAll: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case !judge("add "+string(key), err, kv.ErrNotStored):
				unjudged++
			case err == nil:
				stored++
			default:
				refused++
			}
		})
		if stored > 1 || unjudged == 0 && (stored != 1 || refused != 1) {
			fail("probe: two concurrent adds of %s: %d stored, %d refused", key, stored, refused)
		}
	}

	// cas: a token read through a, a set through b, then cas through a.
	const casKey = "probe-cas"
	if _, err := a.Put([]byte(casKey), &kv.PutRequest{Value: []byte("v0"), SupersedeAll: true}); !judge("cas: set", err) {
		return bad, unavailable
	}
	if err := a.Get([]byte(casKey), &obj, kv.ReadOptions{}); !judge("cas: gets", err) {
		return bad, unavailable
	}
	token := obj.CAS
	if _, err := b.Put([]byte(casKey), &kv.PutRequest{Value: []byte("v1"), SupersedeAll: true}); !judge("cas: set through another node", err) {
		return bad, unavailable
	}
	_, err := a.Put([]byte(casKey), &kv.PutRequest{Value: []byte("v2"), SupersedeAll: true, Cond: kv.CondCAS, CAS: token})
	if judge("cas", err, kv.ErrExists) && !errors.Is(err, kv.ErrExists) {
		fail("probe: cas with a token from before another node's set answered %v, want %v", err, kv.ErrExists)
	}
	return bad, unavailable
}

// both runs fn with a and with b at once and waits for both.
func both(a, b kv.KV, fn func(kv.KV)) {
	var wg sync.WaitGroup
	for _, k := range []kv.KV{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(k)
		}()
	}
	wg.Wait()
}

// traceViews writes each live node's view of the others into the trace:
// gossip's liveness and its transport's, and the ring it routes by.
func (c *Cluster) traceViews(when string) {
	for _, i := range c.live() {
		n := c.node(i)
		if n == nil || n.Coordinator() == nil {
			continue
		}
		var parts []string
		for id, h := range n.Coordinator().PeerHealth() {
			state := "up"
			switch {
			case !h[0]:
				state = "down"
			case !h[1]:
				state = "suspect"
			}
			parts = append(parts, id+"="+state)
		}
		slices.Sort(parts)
		v := n.View()
		c.trace.add("view %s of n%d: ring v%d, %s", when, i+1, v.Ring.Version(), strings.Join(parts, " "))
	}
}
