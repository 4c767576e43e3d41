package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire/wiretest"
)

func TestWriteOneNodeReadAnother(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 2, W: 2})
	if _, err := c.nodes[0].put(t, "k", set("v1")); err != nil {
		t.Fatal(err)
	}
	for i, tn := range c.nodes {
		o, err := tn.get(t, "k")
		if err != nil {
			t.Fatalf("read through n%d: %v", i+1, err)
		}
		if w, ok := o.Winner(); !ok || string(w.Value) != "v1" {
			t.Fatalf("read through n%d: %v", i+1, values(o))
		}
	}
	// W=2 answered; the third replica gets it too, shortly.
	for _, tn := range c.nodes {
		eventually(t, "replication to "+tn.id, func() bool { return tn.local(t, "k")["v1"] })
	}
	if o, _ := c.nodes[1].get(t, "missing"); len(o.Siblings) != 0 || o.CAS != 0 {
		t.Fatalf("a key never written reads as %v cas %d", values(o), o.CAS)
	}
}

func TestNonOwnerForwardsWrites(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 3, R: 2, W: 2})
	key := "forwarded-key"
	top, rest := c.owners(key, 3)
	via := c.nodes[rest[0]]
	res, err := via.put(t, key, set("v"))
	if err != nil {
		t.Fatal(err)
	}
	if via.node.stats.forwarded.Load() != 1 {
		t.Fatal("a non-owner did not forward the write")
	}
	if via.local(t, key)["v"] {
		t.Fatal("a non-owner stored the write itself")
	}
	for _, i := range top {
		tn := c.nodes[i]
		eventually(t, "owner "+tn.id+" has the write", func() bool { return tn.local(t, key)["v"] })
	}
	// Conditions travel with the forward: a stale cas fails at the owner.
	_, err = via.put(t, key, kv.PutRequest{Value: []byte("w"), SupersedeAll: true, Cond: kv.CondCAS, CAS: res.CAS + 1})
	if err != kv.ErrExists {
		t.Fatalf("stale cas through a forward: %v", err)
	}
	if _, err := via.put(t, key, kv.PutRequest{Value: []byte("w"), SupersedeAll: true, Cond: kv.CondCAS, CAS: res.CAS}); err != nil {
		t.Fatalf("current cas through a forward: %v", err)
	}
}

// One replica unreachable: writes and reads keep working with W=R=2, the
// write goes to a fallback with a hint, and the hint reaches the owner
// once it is back.
func TestSloppyQuorumAndHintedHandoff(t *testing.T) {
	c := newTestCluster(t, 4, Options{N: 3, R: 2, W: 2})
	key := "hinted"
	top, rest := c.owners(key, 3)
	coord, down, fallback := c.nodes[top[0]], c.nodes[top[2]], c.nodes[rest[0]]
	others := []int{}
	for i := range c.nodes {
		if i != top[2] {
			others = append(others, i)
		}
	}
	c.cut([]int{top[2]}, others)

	if _, err := coord.put(t, key, set("while-down")); err != nil {
		t.Fatalf("write with one replica down: %v", err)
	}
	o, err := coord.get(t, key)
	if err != nil || !values(o)["while-down"] {
		t.Fatalf("read with one replica down: %v %v", values(o), err)
	}
	eventually(t, "the fallback to hold the write", func() bool { return fallback.local(t, key)["while-down"] })
	if down.local(t, key)["while-down"] {
		t.Fatal("the partitioned replica got the write")
	}

	c.heal()
	eventually(t, "hint delivery", func() bool {
		fallback.node.DeliverHints()
		return down.local(t, key)["while-down"]
	})
	if has, _ := fallback.eng.HasHints([]byte(key)); has {
		t.Fatal("hint kept after delivery")
	}
	if fallback.local(t, key)["while-down"] {
		t.Fatal("the fallback kept the record after handing it off")
	}
}

// Fewer than W reachable in the whole extended list: the client gets a
// clear error naming how many acknowledged.
func TestWriteFailsBelowW(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 2, W: 2})
	c.cut([]int{0}, []int{1, 2})
	_, err := c.nodes[0].put(t, "k", set("v"))
	if !isUnavailable(err) {
		t.Fatalf("write with 1 of 3 reachable and W=2: %v", err)
	}
	if _, err := c.nodes[0].get(t, "k"); !isUnavailable(err) {
		t.Fatalf("read with 1 of 3 reachable and R=2: %v", err)
	}
	// The majority side still works.
	if _, err := c.nodes[1].put(t, "k", set("v")); err != nil {
		t.Fatalf("write on the majority side: %v", err)
	}
}

// A 3/2 partition of 5 nodes: both sides accept a write to the same key
// from the same context; after healing, hint delivery and read repair
// leave both versions as siblings everywhere.
func TestPartitionMakesSiblings(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 3, R: 2, W: 2})
	key := "split-brain"
	if _, err := c.nodes[0].put(t, key, set("base")); err != nil {
		t.Fatal(err)
	}
	o, err := c.nodes[0].get(t, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := o.Context
	c.cut([]int{0, 1, 2}, []int{3, 4})
	if _, err := c.nodes[0].put(t, key, kv.PutRequest{Value: []byte("left"), Context: ctx}); err != nil {
		t.Fatalf("left side: %v", err)
	}
	if _, err := c.nodes[3].put(t, key, kv.PutRequest{Value: []byte("right"), Context: ctx}); err != nil {
		t.Fatalf("right side: %v", err)
	}
	c.heal()
	for _, tn := range c.nodes {
		tn.node.DeliverHints()
	}
	eventually(t, "siblings after healing", func() bool {
		o, err := c.nodes[1].get(t, key)
		got := values(o)
		return err == nil && got["left"] && got["right"] && !got["base"]
	})
	// A write that read both resolves them.
	o, _ = c.nodes[2].get(t, key)
	if _, err := c.nodes[2].put(t, key, kv.PutRequest{Value: []byte("merged"), Context: o.Context}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "resolution", func() bool {
		o, err := c.nodes[4].get(t, key)
		got := values(o)
		return err == nil && len(got) == 1 && got["merged"]
	})
}

// A read that finds one replica stale repairs it in the background.
func TestReadRepair(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 3, W: 3})
	key := "repair-me"
	if _, err := c.nodes[0].put(t, key, set("v1")); err != nil {
		t.Fatal(err)
	}
	// Make one replica stale behind the cluster's back.
	stale := c.nodes[2]
	if _, _, err := c.nodes[0].eng.PutRecord([]byte(key), &kv.PutRequest{Value: []byte("v2"), SupersedeAll: true}, nil); err != nil {
		t.Fatal(err)
	}
	rec2, _, _ := c.nodes[0].eng.Record([]byte(key), nil)
	c.nodes[1].eng.MergeRecord([]byte(key), rec2, kv.Buffered)
	if !stale.local(t, key)["v1"] {
		t.Fatal("setup: stale replica should hold v1")
	}
	o, err := c.nodes[1].get(t, key)
	if err != nil || !values(o)["v2"] || values(o)["v1"] {
		t.Fatalf("read: %v %v", values(o), err)
	}
	eventually(t, "read repair of the stale replica", func() bool { return stale.local(t, key)["v2"] })
	if c.nodes[1].node.stats.readRepairs.Load() == 0 {
		t.Fatal("no read repair counted")
	}
}

func TestFlushAllReachesEveryNode(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 2, W: 3})
	for i := range 5 {
		if _, err := c.nodes[i%3].put(t, fmt.Sprint("k", i), set("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.nodes[1].node.FlushAll(0); err != nil {
		t.Fatal(err)
	}
	for _, tn := range c.nodes {
		for i := range 5 {
			if len(tn.local(t, fmt.Sprint("k", i))) != 0 {
				t.Fatalf("%s still shows k%d after flush_all", tn.id, i)
			}
		}
	}
}

func TestDurableReplicas(t *testing.T) {
	for name, o := range map[string]Options{
		"more durable replicas than N": {N: 3, DurableReplicas: 4},
		"R > N":                        {N: 3, R: 4},
	} {
		o.EnsureDefaults()
		if err := o.Validate(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// With N equal to the cluster size there is no spare node: a write made
// while one owner is down leaves a hint on the coordinator, delivered when
// the owner returns.
func TestHintOnCoordinatorWithoutSpares(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 2, W: 2})
	c.cut([]int{2}, []int{0, 1})
	// Let node 1 notice node 3 is gone, then write through it.
	c.nodes[0].put(t, "warmup", set("x"))
	if _, err := c.nodes[0].put(t, "k", set("v")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a hint for n3 on the coordinator", func() bool {
		has, _ := c.nodes[0].eng.HasHints([]byte("k"))
		return has
	})
	c.heal()
	eventually(t, "delivery to n3", func() bool {
		c.nodes[0].node.DeliverHints()
		return c.nodes[2].local(t, "k")["v"]
	})
	if !c.nodes[0].local(t, "k")["v"] {
		t.Fatal("the coordinator, an owner, dropped its own replica after delivering the hint")
	}
}

// Per-request quorums: W and R within 1..N override the defaults for one
// request, above N is refused.
func TestPerRequestQuorums(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 2, W: 2})
	if _, err := c.nodes[0].put(t, "k", kv.PutRequest{Value: []byte("v"), SupersedeAll: true, W: 4}); err != kv.ErrBadQuorum {
		t.Fatalf("W=4 with N=3: %v", err)
	}
	var o kv.Object
	if err := c.nodes[0].node.Get([]byte("k"), &o, kv.ReadOptions{R: 4}); err != kv.ErrBadQuorum {
		t.Fatalf("R=4 with N=3: %v", err)
	}
	c.cut([]int{2}, []int{0, 1})
	c.nodes[0].put(t, "warm", set("x")) // let the pool notice n3 is gone
	if _, err := c.nodes[0].put(t, "k", kv.PutRequest{Value: []byte("v"), SupersedeAll: true, W: 3}); !isUnavailable(err) {
		t.Fatalf("W=3 with a replica down: %v", err)
	}
	if _, err := c.nodes[0].put(t, "k", kv.PutRequest{Value: []byte("v2"), SupersedeAll: true}); err != nil {
		t.Fatalf("default W=2 with a replica down: %v", err)
	}
	c.cut([]int{1}, []int{0, 2})
	c.nodes[0].put(t, "warm2", set("x"))
	if err := c.nodes[0].node.Get([]byte("k"), &o, kv.ReadOptions{R: 1}); err != nil || !values(&o)["v2"] {
		t.Fatalf("R=1 with two replicas down: %v %v", values(&o), err)
	}
	if err := c.nodes[0].node.Get([]byte("k"), &o, kv.ReadOptions{R: 0}); !isUnavailable(err) {
		t.Fatalf("default R=2 with two replicas down: %v", err)
	}
}

// A slow replica (answers after the coordinator's timeout) and a lossy
// link (frames dropped at random) do not stop writes and reads that W and
// R other replicas can serve; the lost replicas are caught up by hints.
func TestSlowAndLossyReplicas(t *testing.T) {
	c := newTestCluster(t, 4, Options{N: 3, R: 2, W: 2})
	for i := range 20 {
		key := fmt.Sprint("k", i)
		top, _ := c.owners(key, 3)
		slow := c.nodes[top[1]]
		lossy := c.nodes[top[2]]
		coord := c.nodes[top[0]]
		coord.net.Set(slow.addr, wiretest.Fault{Delay: 600 * time.Millisecond})
		coord.net.Set(lossy.addr, wiretest.Fault{DropRate: 0.5})
		if _, err := coord.put(t, key, set(fmt.Sprint("v", i))); err != nil {
			t.Fatalf("%s: write with a slow and a lossy replica: %v", key, err)
		}
		c.heal() // and wait until the pools trust every peer again
	}
	for _, tn := range c.nodes {
		tn.node.DeliverHints()
	}
	for i := range 20 {
		key := fmt.Sprint("k", i)
		top, _ := c.owners(key, 3)
		for _, o := range top {
			tn := c.nodes[o]
			eventually(t, key+" on "+tn.id, func() bool {
				for _, x := range c.nodes {
					x.node.DeliverHints()
				}
				tn.node.Get([]byte(key), &kv.Object{}, kv.ReadOptions{}) // read repair
				return tn.local(t, key)[fmt.Sprint("v", i)]
			})
		}
	}
}

// Anti-entropy catches up replicas that missed writes nobody reads again:
// one replica loses records, another takes writes the others never saw,
// and merkle exchanges alone (no reads, no hints) make all three equal.
func TestAntiEntropyRepairsWithoutReads(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 2, W: 3})
	const keys = 60
	for i := range keys {
		if _, err := c.nodes[i%3].put(t, fmt.Sprint("k", i), set(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	a, b, lossy := c.nodes[0], c.nodes[1], c.nodes[2]
	for i := 0; i < keys; i += 3 { // lossy loses a third of its records
		rec, _, _ := lossy.eng.Record([]byte(fmt.Sprint("k", i)), nil)
		if dropped, err := lossy.eng.DropRecordIf([]byte(fmt.Sprint("k", i)), rec); err != nil || !dropped {
			t.Fatalf("setup: drop k%d: %v", i, err)
		}
	}
	for i := 1; i < keys; i += 5 { // a alone takes newer writes
		if _, _, err := a.eng.PutRecord([]byte(fmt.Sprint("k", i)), &kv.PutRequest{Value: []byte("newer"), SupersedeAll: true}, nil); err != nil {
			t.Fatal(err)
		}
	}
	rounds := 0
	for ; rounds < 3*64; rounds++ { // every node visits each of the 64 partitions
		for _, tn := range c.nodes {
			tn.node.AntiEntropy()
		}
	}
	for i := range keys {
		key := fmt.Sprint("k", i)
		want := fmt.Sprint("v", i)
		if i%5 == 1 {
			want = "newer"
		}
		for _, tn := range []*testNode{a, b, lossy} {
			got := tn.local(t, key)
			if len(got) != 1 || !got[want] {
				t.Fatalf("%s on %s after anti-entropy: %v, want %s", key, tn.id, got, want)
			}
		}
	}
	if a.node.stats.aaeRepaired.Load()+b.node.stats.aaeRepaired.Load()+lossy.node.stats.aaeRepaired.Load() == 0 {
		t.Fatal("no repair counted")
	}
	// Converged replicas find no difference.
	before := a.node.stats.aaeSegments.Load() + b.node.stats.aaeSegments.Load() + lossy.node.stats.aaeSegments.Load()
	for range 64 {
		for _, tn := range c.nodes {
			tn.node.AntiEntropy()
		}
	}
	if after := a.node.stats.aaeSegments.Load() + b.node.stats.aaeSegments.Load() + lossy.node.stats.aaeSegments.Load(); after != before {
		t.Fatalf("%d segments still differ after convergence", after-before)
	}
}

// With more nodes down than the first 2N of the extended list can cover,
// the coordinator walks further: 8 nodes, N=2, the first 4 of the key's
// list unreachable, and the write still finds W=2 nodes.
func TestFallbacksBeyondTwoN(t *testing.T) {
	c := newTestCluster(t, 8, Options{N: 2, R: 1, W: 2})
	key := "far-fallbacks"
	top, rest := c.owners(key, 2)
	// The coordinator is the 7th node of the list; cut it off from the
	// first 4 (both owners and the next two).
	coord := rest[4]
	cutoff := append(append([]int{}, top...), rest[0], rest[1])
	c.cut([]int{coord}, cutoff)
	for _, i := range cutoff { // let the pool notice
		c.nodes[coord].put(t, fmt.Sprint("warm", i), set("x"))
	}
	if _, err := c.nodes[coord].put(t, key, set("v")); err != nil {
		t.Fatalf("write with the first 2N of the list unreachable: %v", err)
	}
}

// A read at R=1 is answered from the coordinator's own copy; read repair
// then compares digests and moves whole records only for replicas that
// differ, in both directions.
func TestReadRepairByDigest(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 1, W: 3})
	// stage writes v1 everywhere, then v2 on the nodes in newer only.
	stage := func(key string, newer ...int) {
		t.Helper()
		if _, err := c.nodes[0].put(t, key, set("v1")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.nodes[newer[0]].eng.PutRecord([]byte(key), &kv.PutRequest{Value: []byte("v2"), SupersedeAll: true}, nil); err != nil {
			t.Fatal(err)
		}
		rec, _, _ := c.nodes[newer[0]].eng.Record([]byte(key), nil)
		for _, i := range newer[1:] {
			c.nodes[i].eng.MergeRecord([]byte(key), rec, kv.Buffered)
		}
	}
	repairs := func(i int) uint64 { return c.nodes[i].node.stats.readRepairs.Load() }

	t.Run("a stale peer", func(t *testing.T) {
		stage("peer-stale", 0, 1)
		before := repairs(0)
		o, err := c.nodes[0].get(t, "peer-stale")
		if err != nil || !values(o)["v2"] || values(o)["v1"] {
			t.Fatalf("read: %v %v", values(o), err)
		}
		eventually(t, "repair of n2", func() bool { return c.nodes[2].local(t, "peer-stale")["v2"] })
		if got := repairs(0) - before; got != 1 {
			t.Errorf("%d repairs counted, want 1 (only the stale peer)", got)
		}
	})
	t.Run("a stale coordinator", func(t *testing.T) {
		stage("self-stale", 0, 1)
		o, err := c.nodes[2].get(t, "self-stale")
		if err != nil || !values(o)["v1"] {
			t.Fatalf("R=1 read answers from its own copy: %v %v", values(o), err)
		}
		eventually(t, "repair of the coordinator's own copy", func() bool { return c.nodes[2].local(t, "self-stale")["v2"] })
		if o, err := c.nodes[2].get(t, "self-stale"); err != nil || !values(o)["v2"] || values(o)["v1"] {
			t.Fatalf("second read: %v %v", values(o), err)
		}
	})
	t.Run("a peer without the key", func(t *testing.T) {
		req := set("only-two")
		if _, _, err := c.nodes[0].eng.PutRecord([]byte("missing"), &req, nil); err != nil {
			t.Fatal(err)
		}
		rec, _, _ := c.nodes[0].eng.Record([]byte("missing"), nil)
		c.nodes[1].eng.MergeRecord([]byte("missing"), rec, kv.Buffered)
		if _, err := c.nodes[1].get(t, "missing"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the key reaches n2", func() bool { return c.nodes[2].local(t, "missing")["only-two"] })
	})
	t.Run("replicas in sync", func(t *testing.T) {
		if _, err := c.nodes[0].put(t, "in-sync", set("v")); err != nil {
			t.Fatal(err)
		}
		st := &c.nodes[1].node.stats
		before, digests, mismatches := repairs(1), st.readDigests.Load(), st.readDigestMismatches.Load()
		for range 20 {
			if o, err := c.nodes[1].get(t, "in-sync"); err != nil || !values(o)["v"] {
				t.Fatalf("read: %v %v", values(o), err)
			}
		}
		eventually(t, "40 digests compared", func() bool { return st.readDigests.Load()-digests == 40 })
		if got := repairs(1) - before; got != 0 {
			t.Errorf("%d repairs of replicas in sync", got)
		}
		if got := st.readDigestMismatches.Load() - mismatches; got != 0 {
			t.Errorf("%d digest mismatches between replicas in sync", got)
		}
	})
}

// A fallback's miss is not an answer while an owner can still give one:
// a node whose transport suspects one owner (gossip says it is up) reads
// at R=1 from the other owner and from itself, standing in for the
// suspect, and must not answer from its own empty copy. Found by the
// simulator (seed 302): after a heal, reads through the node that still
// suspected one owner missed four acknowledged writes both owners held.
func TestFallbackMissDoesNotAnswerWhileAnOwnerCan(t *testing.T) {
	// A generous timeout: an owner timing out would let the miss count.
	c := newTestCluster(t, 3, Options{N: 2, R: 1, W: 2, Timeout: 5 * time.Second})
	for k := range 8 {
		key := fmt.Sprintf("k%d", k)
		top, rest := c.owners(key, 2)
		coord, suspect := c.nodes[rest[0]], c.nodes[top[k%2]]
		if _, err := c.nodes[top[0]].put(t, key, set("v")); err != nil {
			t.Fatal(err)
		}
		// Only coord's link to one owner fails, and gossip still says
		// that owner is up: the transport alone suspects it.
		coord.net.Set(suspect.addr, wiretest.Fault{BlackHole: true})
		coord.net.Reset(suspect.addr)
		eventually(t, "the coordinator's transport to suspect "+suspect.id, func() bool {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			coord.pool.Client(suspect.addr).Ping(ctx)
			return !coord.pool.Healthy(suspect.addr)
		})
		o, err := coord.get(t, key)
		if err != nil {
			t.Fatalf("read of %s through %s with %s suspected: %v", key, coord.id, suspect.id, err)
		}
		if !values(o)["v"] {
			t.Fatalf("read of %s through %s with %s suspected: %v, want v (the other owner holds it)", key, coord.id, suspect.id, values(o))
		}
		c.heal()
	}
}
