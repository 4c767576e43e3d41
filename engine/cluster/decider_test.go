package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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

// staleSuspicion is a node's transport still suspecting a peer that is
// up (a call sent into a healed partition timed out after the heal),
// until a ping clears it.
type staleSuspicion struct {
	peers
	addr    string
	cleared atomic.Bool
}

func (s *staleSuspicion) Healthy(addr string) bool {
	return (addr != s.addr || s.cleared.Load()) && s.peers.Healthy(addr)
}

func (s *staleSuspicion) Verify(ctx context.Context, addr string) bool {
	if addr == s.addr {
		s.cleared.Store(true)
	}
	return s.peers.Verify(ctx, addr)
}

// A node whose transport merely suspects the key's first owner (gossip
// has it alive) pings it before it sends a conditional write elsewhere:
// on a healthy cluster every node picks the same decider (the simulator's
// seed 1952 stored two concurrent adds of one key, and handed out incr
// numbers twice, when one node skipped a first owner the others used).
func TestStaleSuspicionDoesNotPickASecondDecider(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 2, R: 1, W: 2})
	top, rest := c.owners("k", 2)
	first, entry := c.nodes[top[0]], c.nodes[rest[0]]
	entry.node.peers = &staleSuspicion{peers: entry.node.peers, addr: first.addr}
	entry.node.fwd = &staleSuspicion{peers: entry.node.fwd, addr: first.addr}
	if _, err := entry.put(t, "k", kv.PutRequest{Value: []byte("v"), Cond: kv.CondAbsent}); err != nil {
		t.Fatal(err)
	}
	if got := statValue(first.node.Stats(), "cluster_conditional_writes_decided"); got != "1" {
		t.Fatalf("the first owner decided %s conditional writes, want 1: another node decided the add", got)
	}
	// Gossip calling it dead (a suspicion timer from a healed partition
	// firing late) while it answers: the same.
	c.setAlive(top[0], false)
	if _, err := entry.put(t, "k", kv.PutRequest{Arith: &kv.Arith{Delta: 1}}); !errors.Is(err, kv.ErrNotNumber) {
		t.Fatalf("incr of a non-number: %v", err)
	}
	if got := statValue(first.node.Stats(), "cluster_conditional_writes_decided"); got != "2" {
		t.Fatalf("the first owner decided %s conditional writes, want 2: another node decided while gossip had it dead", got)
	}
}
