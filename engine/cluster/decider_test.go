package cluster

import (
	"fmt"
	"testing"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/ring"
)

// The node that decides a conditional write (the key's first healthy
// owner) must not decide from a copy that misses acknowledged writes.
// With R=1 it used to read only its own copy, which misses them whenever
// it was not among the write's acknowledgers: it just joined the ring and
// nothing was handed to it yet (the simulator's seed 547, whose counters
// handed out 9 numbers twice), or it was down while a fallback took the
// write and the hint was not yet delivered.

func incrAll(t *testing.T, tn *testNode, key string, from, to uint64) {
	t.Helper()
	for want := from; want <= to; want++ {
		res, err := tn.put(t, key, kv.PutRequest{Arith: &kv.Arith{Delta: 1}})
		if err != nil {
			t.Fatalf("incr %s through %s (want %d): %v", key, tn.id, want, err)
		}
		if res.Number != want {
			t.Fatalf("incr %s through %s answered %d, want %d: a number handed out twice", key, tn.id, res.Number, want)
		}
	}
}

// joined is the ring with node i (out of it) joined, as a join makes it.
func (c *testCluster) joined(i int) *ring.Ring {
	r, err := c.topo.Load().Ring.Join(ring.Member{ID: c.nodes[i].id, Weight: 1})
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// setRing makes r every node's ring.
func (c *testCluster) setRing(r *ring.Ring) {
	t := *c.topo.Load()
	t.Ring = r
	c.topo.Store(&t)
	c.noteTopology()
}

// noteTopology tells every node of a new topology, as membership's
// subscription does.
func (c *testCluster) noteTopology() {
	for _, tn := range c.nodes {
		tn.node.NoteTopology()
	}
}

func TestJoinerDoesNotDecideFromAnEmptyCopy(t *testing.T) {
	c := newTestCluster(t, 4, Options{N: 2, R: 1, W: 2})
	c.leaveRing(3)
	next := c.joined(3)
	// A key the joiner will own first.
	var key string
	for i := 0; key == ""; i++ {
		k := fmt.Sprintf("ctr%d", i)
		if top, _ := next.PreferenceList(next.Partition(ring.HashKey([]byte(k))), 1, nil); top[0] == "n4" {
			key = k
		}
	}
	via := c.nodes[0]
	if _, err := via.put(t, key, set("0")); err != nil {
		t.Fatal(err)
	}
	incrAll(t, via, key, 1, 5)
	c.setRing(next) // no handoff has run: the joiner holds nothing
	incrAll(t, via, key, 6, 10)
}

func TestOwnerBackFromDownDoesNotDecideStale(t *testing.T) {
	c := newTestCluster(t, 4, Options{N: 2, R: 1, W: 2})
	top, rest := c.owners("ctr", 2)
	first, second := top[0], top[1]
	via := c.nodes[second]
	if _, err := via.put(t, "ctr", set("0")); err != nil {
		t.Fatal(err)
	}
	incrAll(t, via, "ctr", 1, 3)
	// The first owner goes down: the second decides, a fallback stands in.
	c.setAlive(first, false)
	c.cut([]int{first}, append([]int{second}, rest...))
	incrAll(t, via, "ctr", 4, 8)
	// Back before any hint is delivered: it decides again.
	c.heal()
	c.setAlive(first, true)
	incrAll(t, via, "ctr", 9, 12)
}
