package membership

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestLifecycle runs one cluster over real loopback sockets through
// joins, an explicit leave, a crash and a restart.
func TestLifecycle(t *testing.T) {
	c := newCluster(t, false)
	a := c.node("a")
	b := c.node("b", a)
	d0 := c.node("c", a)
	waitConverged(t, []string{"a", "b", "c"}, a, b, d0)

	// A fourth node joins later, through another seed.
	d := c.node("d", b)
	waitConverged(t, []string{"a", "b", "c", "d"}, a, b, d0, d)

	// An explicit leave removes it; the others converge without it.
	if err := d.Leave(ctxWithin(t, convergeWithin)); err != nil {
		t.Fatalf("leave: %v", err)
	}
	if _, in := d.View().Ring.Member("d"); in {
		t.Fatalf("Leave returned while d's ring still has d")
	}
	three := waitConverged(t, []string{"a", "b", "c"}, a, b, d0)
	// It holds nothing (the node layer checks its store): say so, so the
	// others may forget it once it is gone (see TestPruneKeepsWhoMayHoldData).
	d.SetDrained(true)
	waitFor(t, convergeWithin, func() string { return describe([]*Membership{a, b, d0}) }, func() bool {
		for _, n := range []*Membership{a, b, d0} {
			if !n.View().Members["d"].Drained {
				return false
			}
		}
		return true
	})
	if err := d.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, detectWithin, func() string { return describe([]*Membership{a, b, d0}) }, func() bool {
		for _, n := range []*Membership{a, b, d0} {
			if _, known := n.View().Members["d"]; known {
				return false
			}
		}
		return true
	})

	// A crash leaves the node in the ring, marked not alive.
	gossipAddr, saved := d0.GossipAddr(), d0.View().Ring.Encode()
	c.crash(d0)
	waitFor(t, detectWithin, func() string { return describe([]*Membership{a, b}) }, func() bool {
		return !a.View().Alive("c") && !b.View().Alive("c")
	})
	for _, n := range []*Membership{a, b} {
		if v := n.View(); !v.Ring.Equal(three) {
			t.Fatalf("%s changed the ring when c failed: v%d %v", n.self, v.Ring.Version(), memberIDs(v.Ring))
		}
	}

	// It restarts with the same ID at the same address and is alive again.
	cfg := c.config("c", gossipAddr, a.GossipAddr())
	cfg.SavedRing = saved
	c2 := c.start(cfg)
	got := waitConverged(t, []string{"a", "b", "c"}, a, b, c2)
	if !got.Equal(three) {
		t.Fatalf("restart changed the ring: v%d, want v%d", got.Version(), three.Version())
	}
}

// TestLoneNodesMerge joins two nodes that each started a ring of their
// own: one ring wins the tie-break and its claimant adds the other node.
func TestLoneNodesMerge(t *testing.T) {
	c := newCluster(t, false)
	a, b := c.node("a"), c.node("b")
	if va, vb := a.View().Ring, b.View().Ring; va.Version() != 1 || vb.Version() != 1 || va.Equal(vb) {
		t.Fatalf("lone rings: a v%d %v, b v%d %v", va.Version(), memberIDs(va), vb.Version(), memberIDs(vb))
	}
	if err := b.Join(ctxWithin(t, convergeWithin), a.GossipAddr()); err != nil {
		t.Fatal(err)
	}
	r := waitConverged(t, []string{"a", "b"}, a, b)
	if r.Version() != 2 {
		t.Fatalf("merged ring is v%d, want v2 (one lone ring plus one join)", r.Version())
	}
	if a.Stats().RingsAdopted+b.Stats().RingsAdopted == 0 {
		t.Fatalf("neither node adopted the other's ring")
	}
}

// TestRestartAloneThenJoin: a node that ran alone restarts with its saved
// ring and seeds; the two rings converge as in TestLoneNodesMerge.
func TestRestartAloneThenJoin(t *testing.T) {
	c := newCluster(t, true)
	a, b := c.node("a"), c.node("b")
	saved, addr := b.View().Ring.Encode(), b.GossipAddr()
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	cfg := c.config("b", addr, a.GossipAddr())
	cfg.SavedRing = saved
	b = c.start(cfg)
	waitConverged(t, []string{"a", "b"}, a, b)
}

// TestConcurrentJoins starts several nodes at once; only the claimant
// derives rings, and all converge on one ring with everyone.
func TestConcurrentJoins(t *testing.T) {
	c := newCluster(t, true)
	// Slower failure detection than TestTiming: a loaded machine must not
	// make a node look dead here, or another would become claimant.
	c.timing.ProbeTimeout, c.timing.SuspicionMult = 300*time.Millisecond, 6
	a := c.node("a")
	ids := []string{"b", "c", "d", "e", "f", "g"}
	nodes := make([]*Membership, len(ids))
	cfgs := make([]Config, len(ids))
	for i, id := range ids {
		cfgs[i] = c.config(id, "", a.GossipAddr())
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i := range ids {
		wg.Go(func() {
			nodes[i], errs[i] = Start(cfgs[i])
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start %s: %v", ids[i], err)
		}
		c.mu.Lock()
		c.nodes[ids[i]] = nodes[i]
		c.mu.Unlock()
	}
	all := append([]*Membership{a}, nodes...)
	r := waitConverged(t, append([]string{"a"}, ids...), all...)
	for _, n := range nodes {
		if s := n.Stats(); s.RingsDerived != 0 {
			t.Errorf("%s is not the claimant but derived %d rings", n.self, s.RingsDerived)
		}
	}
	if s := a.Stats(); s.RingsDerived == 0 || s.RingsDerived > uint64(len(ids)) || r.Version() != 1+s.RingsDerived {
		t.Errorf("claimant derived %d rings for %d joiners; ring is v%d", s.RingsDerived, len(ids), r.Version())
	}
}

// TestClaimantFailover kills the claimant while a node waits to join: the
// next smallest alive ID takes over and adds it; the dead claimant stays
// in the ring.
func TestClaimantFailover(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")
	b, cc := c.node("b", a), c.node("c", a)
	waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
	c.crash(a)
	d := c.node("d", b)
	waitFor(t, convergeWithin, func() string { return describe([]*Membership{b, cc, d}) }, func() bool {
		for _, n := range []*Membership{b, cc, d} {
			v := n.View()
			if !slices.Equal(memberIDs(v.Ring), []string{"a", "b", "c", "d"}) || !v.Ring.Equal(b.View().Ring) || v.Alive("a") {
				return false
			}
		}
		return true
	})
	if got := b.View().Claimant(); got != "b" {
		t.Errorf("claimant = %q, want b", got)
	}
	if b.Stats().RingsDerived == 0 {
		t.Errorf("b never derived a ring")
	}
}

// TestClaimantLeaves: the claimant removes itself, and the next one
// takes over for later changes.
func TestClaimantLeaves(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")
	b, cc := c.node("b", a), c.node("c", a)
	waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
	if err := a.Leave(ctxWithin(t, convergeWithin)); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, []string{"b", "c"}, b, cc)
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	d := c.node("d", cc)
	waitConverged(t, []string{"b", "c", "d"}, b, cc, d)
	if b.Stats().RingsDerived == 0 {
		t.Errorf("b, the new claimant, derived no ring")
	}
}

func TestLeaveLastMember(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")
	if err := a.Leave(ctxWithin(t, time.Second)); !errors.Is(err, ErrLastMember) {
		t.Fatalf("Leave = %v, want ErrLastMember", err)
	}
}

// TestSetWeightAndZone: the claimant applies a node's new weight and zone.
func TestSetWeightAndZone(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")
	b := c.node("b", a)
	waitConverged(t, []string{"a", "b"}, a, b)
	if err := b.SetWeight(3); err != nil {
		t.Fatal(err)
	}
	if err := b.SetZone("zone-2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, convergeWithin, func() string { return describe([]*Membership{a, b}) }, func() bool {
		m, _ := a.View().Ring.Member("b")
		return m.Weight == 3 && m.Zone == "zone-2" && converged([]string{"a", "b"}, []*Membership{a, b})
	})
	if err := b.SetWeight(-1); !errors.Is(err, ErrConfig) {
		t.Errorf("SetWeight(-1) = %v", err)
	}
	if err := b.SetZone(string(make([]byte, 300))); !errors.Is(err, ErrConfig) {
		t.Errorf("SetZone(300 bytes) = %v", err)
	}
}

// TestPartitionHeals cuts a cluster in two; the side that loses its
// claimant gets a new one and admits a joiner; after the cut heals every
// node converges on one ring with everyone.
func TestPartitionHeals(t *testing.T) {
	c := newCluster(t, true)
	a, b, cc, d := c.fourMembers()
	left, right := []string{a.GossipAddr(), b.GossipAddr()}, []string{cc.GossipAddr(), d.GossipAddr()}
	c.net.partition(left, right, true)
	waitFor(t, detectWithin, func() string { return describe([]*Membership{a, cc}) }, func() bool {
		return !a.View().Alive("c") && !cc.View().Alive("a") && !cc.View().Alive("b")
	})
	e := c.node("e", d) // joins the side whose claimant is now c
	waitFor(t, convergeWithin, func() string { return describe([]*Membership{cc, d, e}) }, func() bool {
		_, in := cc.View().Ring.Member("e")
		return in
	})
	c.net.partition(left, append(right, e.GossipAddr()), false)
	waitConverged(t, []string{"a", "b", "c", "d", "e"}, a, b, cc, d, e)
}

// TestRestartElsewhere: a crashed node restarts at another address and
// without its saved ring. Once it has been declared dead its ID may move
// (Timing.DeadNodeReclaim); it takes the cluster's ring, in which it is
// still a member, and nothing changes.
func TestRestartElsewhere(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")
	b, cc := c.node("b", a), c.node("c", a)
	r := waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
	old := cc.GossipAddr()
	c.crash(cc)
	waitFor(t, detectWithin, func() string { return describe([]*Membership{a, b}) }, func() bool {
		return !a.View().Alive("c") && !b.View().Alive("c")
	})
	cc = c.node("c", b)
	if cc.GossipAddr() == old {
		t.Fatalf("restarted at the same address %s", old)
	}
	if got := waitConverged(t, []string{"a", "b", "c"}, a, b, cc); !got.Equal(r) {
		t.Fatalf("ring changed from v%d to v%d", r.Version(), got.Version())
	}
	if m := a.View().Members["c"]; m.GossipAddr != cc.GossipAddr() {
		t.Fatalf("a sees c at %s, want %s", m.GossipAddr, cc.GossipAddr())
	}
}

// TestLongPartitionHeals: a node cut off for longer than memberlist keeps
// gossiping to the dead is seen again after the cut heals. Without the
// reconnect loop both sides had declared the other dead for good and
// stayed apart (issue 8, item 3).
func TestLongPartitionHeals(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")
	b, cc := c.node("b", a), c.node("c", a)
	waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
	c.net.partition([]string{a.GossipAddr(), b.GossipAddr()}, []string{cc.GossipAddr()}, true)
	waitFor(t, detectWithin, func() string { return describe([]*Membership{a, b, cc}) }, func() bool {
		return !a.View().Alive("c") && !b.View().Alive("c") && !cc.View().Alive("a") && !cc.View().Alive("b")
	})
	// Past GossipToTheDead (500 ms in TestTiming), memberlist no longer
	// sends anything to the other side.
	time.Sleep(4 * c.timing.GossipToTheDead)
	c.net.partition([]string{a.GossipAddr(), b.GossipAddr()}, []string{cc.GossipAddr()}, false)
	waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
}

// TestRestartWithoutSeedsRejoins: the first node of a cluster crashes and
// restarts as it was first started, without seeds, from its saved ring
// and peers. It must find the cluster again (issue 8, item 3).
func TestRestartWithoutSeedsRejoins(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")
	b, cc := c.node("b", a), c.node("c", a)
	r := waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
	peers := a.Peers()
	saved := r.Encode()
	c.crash(a)
	waitFor(t, detectWithin, func() string { return describe([]*Membership{b, cc}) }, func() bool {
		return !b.View().Alive("a") && !cc.View().Alive("a")
	})
	time.Sleep(4 * c.timing.GossipToTheDead)
	cfg := c.config("a", "") // a new address: b and c cannot find it; it must find them
	cfg.SavedRing, cfg.Peers = saved, peers
	a = c.start(cfg)
	waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
}

// TestIntentUnheardByGossipReachesTheClaimant: the claimant learns a
// joiner at its join's push/pull, before the joiner holds a ring, and adds
// a joiner only once its metadata says it holds one. That update travels
// by gossip packets; here none reaches the claimant, and push/pull is an
// hour away. The joiner must announce itself again over a stream until it
// is in the ring (before, it waited for the next push/pull: 30 s on a LAN,
// the simulator's formation deadline), and a leaver until it is out.
func TestIntentUnheardByGossipReachesTheClaimant(t *testing.T) {
	c := newCluster(t, true)
	c.timing.PushPullInterval = time.Hour
	// No probes: with the packets lost one way, a probe's ack would be
	// lost too and suspicion would add its own refutations to the story.
	c.timing.ProbeInterval, c.timing.ProbeTimeout = time.Hour, time.Minute
	a := c.node("a")
	cfg := c.config("b", "", a.GossipAddr())
	c.net.mute(cfg.Transport.(*memTransport).addr, a.GossipAddr())
	b := c.start(cfg)
	// Not waitConverged: a hears b's later metadata (the ring b adopts
	// next) at the next push/pull too, and a stale ring stamp only delays
	// b's pulls from a, which it does not need.
	inRing := func(m *Membership) bool { _, in := m.View().Ring.Member("b"); return in }
	// The announcement is counted when its push/pull returns, which can be
	// after the ring it brought about reached b (make test saw that
	// once): wait for both. Added without announcing, b would never count
	// one (it announces only while the ring lacks it).
	waitFor(t, convergeWithin, func() string { return fmt.Sprintf("%+v%s", b.Stats(), describe([]*Membership{a, b})) },
		func() bool { return inRing(a) && inRing(b) && b.Stats().Reannounces > 0 })
	// The same for a leave: the intent reaches a only by announcement.
	if err := b.Leave(ctxWithin(t, convergeWithin)); err != nil {
		t.Fatalf("leave, heard only by announcement: %v\n%s", err, describe([]*Membership{a, b}))
	}
	if inRing(a) {
		t.Errorf("b left but a's ring still has it: %s", describe([]*Membership{a, b}))
	}
}

// TestRemoveForgetsADeadNodeForGood: a node asks for a dead member's
// removal; the claimant (another node) takes it out of the ring, every
// node forgets it, and it can never run under that ID again, with its
// old ring or without one.
func TestRemoveForgetsADeadNodeForGood(t *testing.T) {
	c := newCluster(t, true)
	a, b, cc, d := c.fourMembers()
	saved := d.View().Ring.Encode()
	c.crash(d)
	waitFor(t, detectWithin, func() string { return describe([]*Membership{a, b, cc}) }, func() bool {
		return !a.View().Alive("d") && !b.View().Alive("d") && !cc.View().Alive("d")
	})
	for id, want := range map[string]error{"b": ErrRemoveSelf, "zz": ErrUnknownNode, "a": ErrRemoveAlive} {
		if err := b.Remove(id); !errors.Is(err, want) {
			t.Errorf("Remove(%q) = %v, want %v", id, err, want)
		}
	}
	if err := b.Remove("d"); err != nil { // b asks; a is the claimant
		t.Fatal(err)
	}
	for _, n := range []*Membership{a, b, cc} {
		if err := n.WaitRemoved(ctxWithin(t, convergeWithin), "d"); err != nil {
			t.Fatalf("%s: %v%s", n.self, err, describe([]*Membership{a, b, cc}))
		}
	}
	r := waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
	if !r.Removed("d") {
		t.Fatalf("ring v%d does not record d as removed", r.Version())
	}
	waitFor(t, convergeWithin, func() string { return describe([]*Membership{a, b, cc}) }, func() bool {
		b.settings.Lock()
		asked := len(b.settings.removes)
		b.settings.Unlock()
		for _, n := range []*Membership{a, b, cc} {
			if _, known := n.View().Members["d"]; known {
				return false // still waited for (by reaping, say)
			}
		}
		return asked == 0 // the request is withdrawn once the ring made it
	})
	if err := b.Remove("d"); err != nil {
		t.Errorf("removing a removed node again: %v", err)
	}
	// Back with its data and old ring (finding the cluster through its
	// seeds, or through the peers it saved), or with neither: refused.
	for _, tc := range []struct {
		ring  []byte
		seeds bool
	}{{saved, true}, {saved, false}, {nil, true}} {
		cfg := c.config("d", "")
		if tc.seeds {
			cfg.Seeds = []string{a.GossipAddr()}
		} else {
			cfg.Peers = map[string]string{"a": a.GossipAddr(), "b": b.GossipAddr()}
		}
		cfg.SavedRing = tc.ring
		if m, err := Start(cfg); !errors.Is(err, ErrRemoved) {
			if err == nil {
				m.Shutdown()
			}
			t.Fatalf("restart of a removed node (saved ring: %v, seeds: %v) = %v, want ErrRemoved", tc.ring != nil, tc.seeds, err)
		}
	}
	// And nobody added it back.
	waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
}

// TestRemovalAskedAgainAfterARestart: a removal request is state the
// caller saves (Config.Removals); a node restarted with one asks for it
// again, and the claimant makes it.
func TestRemovalAskedAgainAfterARestart(t *testing.T) {
	c := newCluster(t, true)
	a, b, cc, d := c.fourMembers()
	saved, addr := cc.View().Ring.Encode(), cc.GossipAddr()
	c.crash(d)
	c.crash(cc)
	waitFor(t, detectWithin, func() string { return describe([]*Membership{a, b}) }, func() bool {
		return !a.View().Alive("d") && !a.View().Alive("c")
	})
	cfg := c.config("c", addr)
	cfg.SavedRing, cfg.Removals, cfg.Peers = saved, []string{"d"}, map[string]string{"a": a.GossipAddr()}
	cc = c.start(cfg)
	if err := a.WaitRemoved(ctxWithin(t, convergeWithin), "d"); err != nil {
		t.Fatalf("%v%s", err, describe([]*Membership{a, b, cc}))
	}
	waitConverged(t, []string{"a", "b", "c"}, a, b, cc)
}

// TestRemovedNodeThatRanOnIsTold: a node cut off long enough to seem dead
// is removed meanwhile; when the cut heals it learns it was removed (the
// node then closes itself), though the others ignore everything it says.
// Two paths carry the ring to it: the others send it when gossip reports
// the node alive again (tell), and its own push/pull takes it. With
// push/pull off the test failed about one run in two: when the node's own
// gossip never saw the others down, nobody saw it come back either.
func TestRemovedNodeThatRanOnIsTold(t *testing.T) {
	c := newCluster(t, true)
	a, b, cc, d := c.fourMembers()
	rest := []string{a.GossipAddr(), b.GossipAddr(), cc.GossipAddr()}
	c.net.partition(rest, []string{d.GossipAddr()}, true)
	waitFor(t, detectWithin, func() string { return describe([]*Membership{a, b, cc}) }, func() bool {
		return !a.View().Alive("d") && !b.View().Alive("d") && !cc.View().Alive("d")
	})
	if err := b.Remove("d"); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitRemoved(ctxWithin(t, convergeWithin), "d"); err != nil {
		t.Fatal(err)
	}
	c.net.partition(rest, []string{d.GossipAddr()}, false)
	if err := d.WaitRemoved(ctxWithin(t, convergeWithin), "d"); err != nil {
		t.Fatalf("the removed node never heard: %v%s", err, describe([]*Membership{a, b, cc, d}))
	}
}

// fourMembers starts a, then b, c and d joining it, and waits until all
// four agree on a ring of them.
func (c *cluster) fourMembers() (a, b, cc, d *Membership) {
	c.t.Helper()
	a = c.node("a")
	b, cc, d = c.node("b", a), c.node("c", a), c.node("d", a)
	waitConverged(c.t, []string{"a", "b", "c", "d"}, a, b, cc, d)
	return a, b, cc, d
}
