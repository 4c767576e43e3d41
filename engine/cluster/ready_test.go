package cluster

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire/wiretest"
	"github.com/dynamo-kv/dynamo/ring"
)

// A node that just became a replica of a partition holds none of it until
// it has pulled it from the partition's earlier replicas. Read at R=1 from
// its own copy, a value every old replica held read as a miss.
func TestNewReplicaReadsNothingUntilCaughtUp(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 2, R: 1, W: 2})
	c.leaveRing(4)
	before := c.topo.Load().Ring
	after := c.joined(4)
	joiner := c.nodes[4]
	// Keys the join gives the joiner.
	var keys []string
	for i := 0; len(keys) < 20; i++ {
		k := fmt.Sprintf("k%d", i)
		if o, _ := after.PreferenceList(after.Partition(ring.HashKey([]byte(k))), 2, nil); contains(o, joiner.id) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if _, err := c.nodes[0].put(t, k, set("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	c.setRing(after) // no handoff has run: the joiner holds nothing
	for _, k := range keys {
		o, err := joiner.get(t, k)
		if err != nil {
			t.Fatalf("read of %s through the joiner: %v", k, err)
		}
		if s, ok := o.Winner(); !ok || string(s.Value) != "v-"+k {
			t.Fatalf("read of %s through the joiner, which has not caught up: %+v, want v-%s", k, o.Siblings, k)
		}
	}
	// Caught up, it reads its own copy: the old replicas' may go.
	for joiner.node.catchingUp() > 0 {
		joiner.node.CatchUp()
	}
	for _, k := range keys {
		o1, _ := before.PreferenceList(before.Partition(ring.HashKey([]byte(k))), 2, nil)
		o2, _ := after.PreferenceList(after.Partition(ring.HashKey([]byte(k))), 2, nil)
		for _, tn := range c.nodes {
			if contains(o1, tn.id) && !contains(o2, tn.id) {
				rec, _, _ := tn.eng.Record([]byte(k), nil)
				if ok, err := tn.eng.DropRecordIf([]byte(k), rec); !ok || err != nil {
					t.Fatalf("dropping %s on %s: %v %v", k, tn.id, ok, err)
				}
			}
		}
		if _, found, _ := joiner.eng.Record([]byte(k), nil); !found {
			t.Fatalf("the joiner caught up without %s", k)
		}
	}
	if got := statValue(joiner.node.Stats(), "cluster_partitions_catching_up"); got != "0" {
		t.Fatalf("cluster_partitions_catching_up = %s after catching up", got)
	}
}

// A read that reaches a replica still catching up is read through to the
// partition's earlier replicas there, wherever it is coordinated.
func TestCatchingUpReplicaReadsThrough(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 2, R: 2, W: 2})
	c.leaveRing(4)
	after := c.joined(4)
	joiner := c.nodes[4]
	var key string
	for i := 0; key == ""; i++ {
		k := fmt.Sprintf("k%d", i)
		if o, _ := after.PreferenceList(after.Partition(ring.HashKey([]byte(k))), 2, nil); o[0] == joiner.id {
			key = k
		}
	}
	if _, err := c.nodes[0].put(t, key, set("v")); err != nil {
		t.Fatal(err)
	}
	c.setRing(after)
	// Through any node at R=2: the joiner's empty copy must not count.
	for _, tn := range c.nodes {
		o, err := tn.get(t, key)
		if err != nil {
			t.Fatalf("read through %s: %v", tn.id, err)
		}
		if s, ok := o.Winner(); !ok || string(s.Value) != "v" {
			t.Fatalf("read through %s: %+v, want v", tn.id, o.Siblings)
		}
	}
	if got := statValue(joiner.node.Stats(), "cluster_reads_through"); got == "0" || got == "" {
		t.Fatalf("cluster_reads_through = %q on the joiner: no read went through", got)
	}
}

func statValue(stats []kv.Stat, name string) string {
	for _, s := range stats {
		if s.Name == name {
			return s.Value
		}
	}
	return ""
}

// A node that restarts into a ring newer than the last one it had caught
// up (it was down while a join moved partitions to it, or stopped half
// way through pulling them) pulls what it gained since, though its store
// is not empty.
func TestRestartCatchesUpFromTheLastReadyRing(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 2, R: 1, W: 2})
	before := c.topo.Load().Ring
	c.leaveRing(4)
	after := c.topo.Load().Ring // a leave hands n5's partitions to the others
	tn := c.nodes[0]
	if _, err := tn.put(t, "k", set("v")); err != nil {
		t.Fatal(err)
	}
	gained := 0
	for p := range after.Partitions() {
		o1, _ := before.PreferenceList(p, 2, nil)
		o2, _ := after.PreferenceList(p, 2, nil)
		if contains(o2, tn.id) && !contains(o1, tn.id) {
			gained++
		}
	}
	if gained == 0 {
		t.Fatal("setup: the leave gave n1 no partition")
	}
	restarted, err := New(tn.eng, topoFor{c, tn.id, &tn.ring, nil}, tn.pool, Options{N: 2, R: 1, W: 2,
		HintInterval: time.Hour, HandoffInterval: time.Hour, AntiEntropyInterval: -1, ReapInterval: -1, CatchUpInterval: -1,
		ReadyRing: before})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	if got := restarted.catchingUp(); got != gained {
		t.Fatalf("restarted with the ring before the leave as its last ready one: %d partitions to catch up, want %d", got, gained)
	}
	// A request still holding the old ring does not undo the marks.
	restarted.noteRing(&Topology{Ring: before, Self: tn.id})
	if got := restarted.catchingUp(); got != gained {
		t.Fatalf("after an older ring was noted: %d partitions to catch up, want %d", got, gained)
	}
}

// A joiner reads a partition it has not caught up through to the
// replicas whose places it took, not to every earlier and current
// replica: their copies stood where its own stands in every quorum.
// Reading through from all of them tripled what a join cost the cluster
// (bench-join: 49,275 reads through in 20 s, each fetching the key from
// three nodes and writing what it found). It still pulls from all of them
// before it counts as caught up, the replaced ones first.
func TestReadThroughGoesToTheReplacedOwners(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 3, R: 2, W: 2})
	c.leaveRing(4)
	before := c.topo.Load().Ring
	after := c.joined(4)
	c.setRing(after)
	joiner := c.nodes[4]
	pending := joiner.node.CatchingUp()
	if len(pending) == 0 {
		t.Fatal("the join gave the joiner no partition to catch up")
	}
	for _, st := range pending {
		o1, _ := before.PreferenceList(st.Partition, 3, nil)
		o2, _ := after.PreferenceList(st.Partition, 3, nil)
		var replaced, all []string
		for _, id := range o1 {
			if !contains(o2, id) {
				replaced = append(replaced, id)
			}
		}
		all = append(all, replaced...)
		for _, id := range append(o1, o2...) {
			if id != joiner.id && !contains(all, id) {
				all = append(all, id)
			}
		}
		if got := joiner.node.ready.readThrough(st.Partition); fmt.Sprint(got) != fmt.Sprint(replaced) {
			t.Fatalf("partition %d (owners %v, then %v): reads through to %v, want only %v, whose place it took", st.Partition, o1, o2, got, replaced)
		}
		if got := st.Left; fmt.Sprint(got) != fmt.Sprint(all) {
			t.Fatalf("partition %d: pulls from %v, want %v (the replaced first, then every other replica)", st.Partition, got, all)
		}
	}
}

// A source is skipped only once it has been down for the catch-up's
// patience, counted from when it was first seen down: a catch-up running
// for minutes skipped at once a source that missed one round, and a
// partition with one source left was counted caught up with nothing.
func TestCatchUpWaitsOutASourceDownOnlyBriefly(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 3, R: 2, W: 2})
	var now atomic.Int64
	now.Store(time.Now().UnixNano()) // the partition's mark is stamped by the real clock
	joiner := c.nodes[4]
	joiner.node.bgw.now = func() time.Time { return time.Unix(0, now.Load()) }
	keys, _, after := movedKeys(t, c, 3, 5)
	c.setRing(after)
	p := after.Partition(ring.HashKey([]byte(keys[0])))
	src := joiner.node.ready.sourcesLeft(p)[0]
	var down int
	fmt.Sscanf(src, "n%d", &down)
	now.Add(int64(time.Minute)) // the catch-up has run for a minute
	c.setAlive(down-1, false)
	joiner.node.CatchUp()
	if !contains(joiner.node.ready.sourcesLeft(p), src) {
		t.Fatalf("%s, down for one round of a catch-up a minute old, was skipped", src)
	}
	now.Add(int64(catchUpPatience + time.Second))
	joiner.node.CatchUp()
	if contains(joiner.node.ready.sourcesLeft(p), src) {
		t.Fatalf("%s, down longer than the patience, was not skipped", src)
	}
	c.setAlive(down-1, true)
	for joiner.node.catchingUp() > 0 {
		joiner.node.CatchUp()
	}
	for _, k := range keys {
		if _, found, _ := joiner.eng.Record([]byte(k), nil); !found {
			t.Fatalf("caught up without %s: the other replicas had it", k)
		}
	}
}

// sourcesLeft is the sources partition p has not been pulled from.
func (rd *readiness) sourcesLeft(p int) []string {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if st := rd.pending[p]; st != nil {
		return st.left(st.sources)
	}
	return nil
}

// keysAroundCoordinator returns count keys of one partition the joiner
// replicates in r (N=3) and coord does not, so that every replica a read
// through coord asks is asked over the network, and that partition.
func keysAroundCoordinator(r *ring.Ring, joiner, coord *testNode, count int) (keys []string, part int) {
	part = -1
	for i := 0; len(keys) < count; i++ {
		k := fmt.Sprintf("k%d", i)
		p := r.Partition(ring.HashKey([]byte(k)))
		if o, _ := r.PreferenceList(p, 3, nil); contains(o, joiner.id) && !contains(o, coord.id) && (part < 0 || p == part) {
			part = p
			keys = append(keys, k)
		}
	}
	return keys, part
}

// A coordinator that hears a replica answer a read as catching up (read
// through) reads the partition around it while the others make R, and
// still asks it when they do not: at R=N, or with another replica down.
func TestReadsGoAroundAReplicaCatchingUp(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 3, R: 2, W: 2})
	c.leaveRing(4)
	after := c.joined(4)
	joiner, coord := c.nodes[4], c.nodes[0]
	keys, part := keysAroundCoordinator(after, joiner, coord, 12)
	for _, k := range keys {
		if _, err := coord.put(t, k, set("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	c.setRing(after)
	read := func(k string, opt kv.ReadOptions) {
		t.Helper()
		var o kv.Object
		if err := coord.node.Get([]byte(k), &o, opt); err != nil {
			t.Fatalf("read of %s: %v", k, err)
		}
		if s, ok := o.Winner(); !ok || string(s.Value) != "v-"+k {
			t.Fatalf("read of %s: %+v, want v-%s", k, o.Siblings, k)
		}
	}
	through := func() string { return statValue(joiner.node.Stats(), "cluster_reads_through") }
	read(keys[0], kv.ReadOptions{})
	eventually(t, "the coordinator to hear the joiner is catching up", func() bool {
		return coord.node.behind.is(joiner.id, after, part, time.Now())
	})
	before := through()
	for _, k := range keys[1:8] {
		read(k, kv.ReadOptions{})
	}
	if got := through(); got != before {
		t.Fatalf("cluster_reads_through on the joiner went from %s to %s: reads did not go around it", before, got)
	}
	if got := statValue(coord.node.Stats(), "cluster_reads_around_catching_up"); got != "7" {
		t.Fatalf("cluster_reads_around_catching_up = %s, want 7", got)
	}
	// At R=N the joiner is one of the N it takes.
	read(keys[8], kv.ReadOptions{R: 3})
	if got := through(); got == before {
		t.Fatal("a read at R=N did not ask the joiner")
	}
	// When the caught-up replicas a read asks refuse it (their ports are
	// closed), a replica catching up is the spare that makes R.
	top, _ := c.owners(keys[9], 3)
	for _, i := range top {
		if !coord.node.behind.is(c.nodes[i].id, after, part, time.Now()) {
			coord.net.Set(c.nodes[i].addr, wiretest.Fault{Refuse: true})
			coord.net.Reset(c.nodes[i].addr)
		}
	}
	before = through()
	read(keys[9], kv.ReadOptions{})
	if got := through(); got == before {
		t.Fatal("with a caught-up replica unreachable, the read did not ask the joiner")
	}
}

// A read that left a replica out as catching up asks it after all when a
// target hangs: the hung target fails only at the read's deadline, too
// late for a spare, and the round answered from the other target and a
// non-owner's miss, losing a write the left-out replica held (found by
// review: the write was on the hung target and the joiner only).
func TestReadHedgesWhenATargetHangs(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 3, R: 2, W: 2})
	c.leaveRing(4)
	after := c.joined(4)
	joiner, coord := c.nodes[4], c.nodes[0]
	keys, part := keysAroundCoordinator(after, joiner, coord, 2)
	c.setRing(after)
	for _, k := range keys {
		if _, err := coord.put(t, k, set("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	var o kv.Object
	if err := coord.node.Get([]byte(keys[0]), &o, kv.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the coordinator to hear the joiner is catching up", func() bool {
		return coord.node.behind.is(joiner.id, after, part, time.Now())
	})
	top, _ := c.owners(keys[1], 3)
	var others []*testNode
	for _, i := range top {
		if c.nodes[i] != joiner {
			others = append(others, c.nodes[i])
		}
	}
	// The write is on others[0] and the joiner; others[1] lost it, and
	// others[0] hangs.
	rec, _, _ := others[1].eng.Record([]byte(keys[1]), nil)
	if dropped, err := others[1].eng.DropRecordIf([]byte(keys[1]), rec); !dropped || err != nil {
		t.Fatalf("dropping %s from %s: %v %v", keys[1], others[1].id, dropped, err)
	}
	coord.net.Set(others[0].addr, wiretest.Fault{BlackHole: true})
	if err := coord.node.Get([]byte(keys[1]), &o, kv.ReadOptions{}); err != nil {
		t.Fatalf("read of %s: %v", keys[1], err)
	}
	if s, ok := o.Winner(); !ok || string(s.Value) != "v-"+keys[1] {
		t.Fatalf("read of %s with a target hung: %+v, want v-%s (the joiner holds it)", keys[1], o.Siblings, keys[1])
	}
	if got := statValue(coord.node.Stats(), "cluster_read_hedges"); got == "0" {
		t.Fatal("cluster_read_hedges = 0: the read did not hedge")
	}
}

// A Holds question is refused only by an owner that still has to pull the
// partition from the asker: one it has pulled from, or that is not among
// its sources, waits on nothing.
func TestAwaitsOnlyASourceNotPulled(t *testing.T) {
	rd := readiness{pending: map[int]*catchUpState{3: {sources: []string{"a", "b"}, pulled: map[string]bool{"a": true}}}}
	for _, tc := range []struct {
		p    int
		id   string
		want bool
	}{{3, "a", false}, {3, "b", true}, {3, "c", false}, {4, "b", false}} {
		if got := rd.awaits(tc.p, tc.id); got != tc.want {
			t.Errorf("awaits(%d, %s) = %v, want %v", tc.p, tc.id, got, tc.want)
		}
	}
}

// A catch-up counts what its pulls merged (dynctl transfers shows it), and
// skips at once a source removed from the ring for good: it will not come
// back, so waiting out its patience only delays the partition.
func TestCatchUpCountsAndSkipsARemovedSource(t *testing.T) {
	c := newTestCluster(t, 5, Options{N: 3, R: 2, W: 2})
	keys, _, after := movedKeys(t, c, 3, 40)
	joiner := c.nodes[4]
	c.setRing(after)
	p := after.Partition(ring.HashKey([]byte(keys[0])))
	src := joiner.node.ready.sourcesLeft(p)[0]
	var gone int
	fmt.Sscanf(src, "n%d", &gone)
	c.setAlive(gone-1, false)
	var rest []ring.Member
	for _, m := range after.Members() {
		if m.ID != src {
			rest = append(rest, m)
		}
	}
	removed, err := after.Remove(rest, src)
	if err != nil {
		t.Fatal(err)
	}
	c.setRing(removed)
	joiner.node.CatchUp()
	if left := joiner.node.ready.sourcesLeft(p); contains(left, src) {
		t.Fatalf("partition %d still waits for %s, removed for good: sources left %v", p, src, left)
	}
	for range 10 {
		if joiner.node.catchingUp() == 0 {
			break
		}
		joiner.node.CatchUp()
	}
	prog := joiner.node.Progress()
	if prog.Pending != 0 || prog.Partitions == 0 {
		t.Fatalf("progress %+v: want every marked partition caught up", prog)
	}
	owned := 0
	for _, k := range keys {
		if o, _ := removed.PreferenceList(removed.Partition(ring.HashKey([]byte(k))), 3, nil); contains(o, joiner.id) {
			owned++
		}
	}
	if prog.Records < int64(owned) || prog.Bytes <= prog.Records {
		t.Fatalf("progress %+v: the joiner replicates %d of the keys written, each pulled once", prog, owned)
	}
}
