package sim

import (
	"errors"
	"fmt"
	"slices"
	"sync"

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
// that have run, and returns what went wrong ("" when nothing did).
func (c *Cluster) probeConditionals() []string {
	live := c.live()
	a, b := c.node(live[0]).KV(), c.node(live[len(live)-1]).KV()
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	// incr: both nodes at once on one counter.
	const ctr = "probe-incr"
	if _, err := a.Put([]byte(ctr), &kv.PutRequest{Value: []byte("0"), SupersedeAll: true, W: c.sc.N}); err != nil {
		return []string{"probe: setting the counter: " + err.Error()}
	}
	var mu sync.Mutex
	var got []uint64
	both(a, b, func(k kv.KV) {
		for range probeIncrs {
			res, err := k.Put([]byte(ctr), &kv.PutRequest{Arith: &kv.Arith{Delta: 1}})
			mu.Lock()
			if err != nil {
				fail("probe: incr: %v", err)
			} else {
				got = append(got, res.Number)
			}
			mu.Unlock()
		}
	})
	slices.Sort(got)
	if d := len(got) - len(slices.Compact(slices.Clone(got))); d > 0 {
		fail("probe: %d incr answers handed out a number already given", d)
	}
	var obj kv.Object
	if err := a.Get([]byte(ctr), &obj, kv.ReadOptions{}); err != nil {
		fail("probe: reading the counter: %v", err)
	} else if w, _ := obj.Winner(); string(w.Value) != fmt.Sprint(2*probeIncrs) {
		fail("probe: counter at %q after %d increments", w.Value, 2*probeIncrs)
	}

	// add: the same new key through both nodes at once, stored once.
	for i := range probeAdds {
		key := []byte(fmt.Sprintf("probe-add-%d", i))
		var stored, refused int
		both(a, b, func(k kv.KV) {
			_, err := k.Put(key, &kv.PutRequest{Value: []byte("x"), Cond: kv.CondAbsent, SupersedeAll: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				stored++
			case errors.Is(err, kv.ErrNotStored):
				refused++
			default:
				fail("probe: add %s: %v", key, err)
			}
		})
		if stored != 1 || refused != 1 {
			fail("probe: two concurrent adds of %s: %d stored, %d refused", key, stored, refused)
		}
	}

	// cas: a token read through a, a set through b, then cas through a.
	const casKey = "probe-cas"
	if _, err := a.Put([]byte(casKey), &kv.PutRequest{Value: []byte("v0"), SupersedeAll: true}); err != nil {
		return append(bad, "probe: cas: "+err.Error())
	}
	if err := a.Get([]byte(casKey), &obj, kv.ReadOptions{}); err != nil {
		return append(bad, "probe: cas: "+err.Error())
	}
	token := obj.CAS
	if _, err := b.Put([]byte(casKey), &kv.PutRequest{Value: []byte("v1"), SupersedeAll: true}); err != nil {
		return append(bad, "probe: cas: "+err.Error())
	}
	if _, err := a.Put([]byte(casKey), &kv.PutRequest{Value: []byte("v2"), SupersedeAll: true, Cond: kv.CondCAS, CAS: token}); !errors.Is(err, kv.ErrExists) {
		fail("probe: cas with a token from before another node's set answered %v, want %v", err, kv.ErrExists)
	}
	return bad
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
