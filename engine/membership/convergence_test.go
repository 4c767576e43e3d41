package membership

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/dynamo-kv/dynamo/ring"
)

// TestReceivedRings feeds rings to a running node the way memberlist
// delivers them (NotifyMsg and MergeRemoteState) and checks what it keeps:
// stale, duplicate, corrupt and foreign rings change nothing; a better
// ring is adopted.
func TestReceivedRings(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")
	b := c.node("b", a)
	held := waitConverged(t, []string{"a", "b"}, a, b) // v2
	d := &delegate{a}

	v1 := mustRing(t, smallRing, "a")
	// A rival v2 that loses the tie-break to the held one: same version,
	// larger fingerprint.
	var rival *ring.Ring
	for i := 0; rival == nil || !stampOf(held).beats(stampOf(rival)); i++ {
		var err error
		if rival, err = v1.Join(ring.Member{ID: fmt.Sprintf("r%d", i), Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := ringFrame(held)
	corrupt[len(corrupt)-1] ^= 0xff
	otherQ := mustRing(t, ring.Config{Partitions: 128, Replicas: 3}, "a", "b", "c", "d", "e")

	type delivery struct {
		name    string
		deliver func([]byte)
		msg     []byte
		counter func(Stats) uint64
	}
	viaMsg := d.NotifyMsg
	viaPushPull := func(b []byte) { d.MergeRemoteState(b, false) }
	ignored := func(s Stats) uint64 { return s.RingsIgnored }
	for _, tc := range []delivery{
		{"duplicate by message", viaMsg, ringFrame(held), ignored},
		{"duplicate by push/pull", viaPushPull, ringFrame(held), ignored},
		{"stale by message", viaMsg, ringFrame(v1), ignored},
		{"stale by push/pull", viaPushPull, ringFrame(v1), ignored},
		{"same version, larger fingerprint", viaMsg, ringFrame(rival), ignored},
		{"corrupt", viaMsg, corrupt, func(s Stats) uint64 { return s.MessagesRejected }},
		{"unknown kind", viaMsg, []byte{msgFormat, 99, 1, 2}, func(s Stats) uint64 { return s.MessagesRejected }},
		{"other partition count", viaMsg, ringFrame(otherQ), func(s Stats) uint64 { return s.RingsOtherConfig }},
	} {
		before := tc.counter(a.Stats())
		tc.deliver(tc.msg)
		waitFor(t, convergeWithin, func() string { return tc.name + ": not counted" }, func() bool {
			return tc.counter(a.Stats()) > before
		})
		if !a.View().Ring.Equal(held) {
			t.Fatalf("%s: ring changed to v%d %v", tc.name, a.View().Ring.Version(), memberIDs(a.View().Ring))
		}
	}

	// A better ring (version 5, with a member nobody has heard of) is
	// adopted, spreads to b, and keeps the unknown member: it is not alive,
	// but only a leave removes a member.
	better := held
	var err error
	for _, id := range []string{"x", "y", "z"} {
		if better, err = better.Join(ring.Member{ID: id, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	d.NotifyMsg(ringFrame(better))
	got := waitConverged(t, []string{"a", "b", "x", "y", "z"}, a, b)
	if !got.Equal(better) {
		t.Fatalf("adopted v%d, want the v%d sent", got.Version(), better.Version())
	}
	if a.View().Alive("x") || a.View().Members["x"].ID != "x" {
		t.Fatalf("x = %+v, want listed and not alive", a.View().Members["x"])
	}
}

// TestSubscribe: views arrive in order, never with an older ring, and the
// last one delivered is the current one; cancel stops the calls.
func TestSubscribe(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")
	var mu sync.Mutex
	var seen []*View
	cancel := a.Subscribe(func(v *View) {
		mu.Lock()
		seen = append(seen, v)
		mu.Unlock()
	})
	b := c.node("b", a)
	cc := c.node("c", b)
	waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
	waitFor(t, convergeWithin, func() string { return "last view not delivered" }, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == a.View()
	})
	mu.Lock()
	views := slices.Clone(seen)
	mu.Unlock()
	for i := 1; i < len(views); i++ {
		if stampOf(views[i-1].Ring).beats(stampOf(views[i].Ring)) {
			t.Fatalf("view %d has ring v%d after v%d", i, views[i].Ring.Version(), views[i-1].Ring.Version())
		}
	}
	if views[0].Ring.Version() != 1 || views[len(views)-1].Ring.Len() != 3 {
		t.Fatalf("first view v%d, last view %v", views[0].Ring.Version(), memberIDs(views[len(views)-1].Ring))
	}

	cancel()
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if err := b.SetWeight(2); err != nil { // changes a's view soon
		t.Fatal(err)
	}
	waitFor(t, convergeWithin, func() string { return "weight change not seen" }, func() bool {
		m, _ := a.View().Ring.Member("b")
		return m.Weight == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) > n+1 { // one call may have been under way when cancel ran
		t.Fatalf("%d calls after cancel", len(seen)-n)
	}
}
