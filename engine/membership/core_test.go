package membership

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dynamo-kv/dynamo/ring"
)

var smallRing = ring.Config{Partitions: 64, Replicas: 3}

func mustRing(t testing.TB, cfg ring.Config, ids ...string) *ring.Ring {
	t.Helper()
	var ms []ring.Member
	for _, id := range ids {
		ms = append(ms, ring.Member{ID: id, Weight: 1})
	}
	r, err := ring.New(cfg, ms)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func memberIDs(r *ring.Ring) []string {
	var ids []string
	for _, m := range r.Members() {
		ids = append(ids, m.ID)
	}
	return ids
}

func meta(in intent, r *ring.Ring) []byte {
	return nodeMeta{intent: in, weight: 1, ring: stampOf(r), ringConfig: ringConfigOf(r)}.appendTo(nil)
}

// coreWith builds a core for self holding r, which sees each of alive as
// an alive node wanting to join and holding r.
func coreWith(self string, r *ring.Ring, alive ...string) core {
	c := newCore(self, r)
	c.setSelf(nodeMeta{intent: intentJoin, weight: 1, ring: stampOf(r)}, "")
	for _, id := range alive {
		c.observe(id, true, "127.0.0.1:1", meta(intentJoin, r))
	}
	return c
}

func TestStampBeats(t *testing.T) {
	for _, tc := range []struct {
		s, o stamp
		want bool
	}{
		{stamp{2, 9}, stamp{1, 1}, true},
		{stamp{1, 1}, stamp{2, 9}, false},
		{stamp{3, 4}, stamp{3, 5}, true},
		{stamp{3, 5}, stamp{3, 4}, false},
		{stamp{3, 5}, stamp{3, 5}, false},
		{stamp{1, ^uint64(0)}, stamp{}, true}, // any ring beats none
		{stamp{}, stamp{1, 0}, false},
	} {
		if got := tc.s.beats(tc.o); got != tc.want {
			t.Errorf("%v.beats(%v) = %v", tc.s, tc.o, got)
		}
	}
}

func TestOffer(t *testing.T) {
	v1 := mustRing(t, smallRing, "a")
	v2, _ := v1.Join(ring.Member{ID: "b", Weight: 1})
	v2other, _ := v1.Join(ring.Member{ID: "c", Weight: 1})
	small, large := v2, v2other
	if large.Fingerprint() < small.Fingerprint() {
		small, large = large, small
	}
	otherQ := mustRing(t, ring.Config{Partitions: 128, Replicas: 3}, "a", "b", "c", "d")
	for _, tc := range []struct {
		name      string
		held, got *ring.Ring
		want      offerResult
	}{
		{"no ring yet", nil, v1, offerAdopted},
		{"no ring yet, any config", nil, otherQ, offerAdopted},
		{"higher version", v1, v2, offerAdopted},
		{"lower version", v2, v1, offerStale},
		{"same version, smaller fingerprint", large, small, offerAdopted},
		{"same version, larger fingerprint", small, large, offerStale},
		{"the ring held", v2, v2, offerDuplicate},
		{"an equal copy", v2, mustDecode(t, v2.Encode()), offerDuplicate},
		{"other partition count", v1, otherQ, offerMismatch},
	} {
		c := newCore("a", tc.held)
		if got := c.offer(tc.got); got != tc.want {
			t.Errorf("%s: offer = %v, want %v", tc.name, got, tc.want)
		}
		wantHeld := tc.held
		if tc.want == offerAdopted {
			wantHeld = tc.got
		}
		if c.ring != wantHeld {
			t.Errorf("%s: holds v%d, want v%d", tc.name, stampOf(c.ring).version, stampOf(wantHeld).version)
		}
		if again := c.offer(tc.got); tc.want == offerAdopted && again != offerDuplicate {
			t.Errorf("%s: second offer = %v, want offerDuplicate (idempotent)", tc.name, again)
		}
	}
}

func mustDecode(t *testing.T, b []byte) *ring.Ring {
	t.Helper()
	r, err := ring.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClaimant(t *testing.T) {
	r := mustRing(t, smallRing, "b", "c", "d")
	for _, tc := range []struct {
		name  string
		self  string
		alive []string
		dead  []string
		want  string
	}{
		{"smallest member", "d", []string{"b", "c"}, nil, "b"},
		{"smallest dead", "d", []string{"c"}, []string{"b"}, "c"},
		{"self when the rest are dead", "d", nil, []string{"b", "c"}, "d"},
		{"a smaller non-member does not count", "c", []string{"a", "b"}, nil, "b"},
		{"unknown members are not alive", "d", nil, nil, "d"},
	} {
		c := coreWith(tc.self, r, tc.alive...)
		for _, id := range tc.dead {
			c.observe(id, false, "127.0.0.1:1", meta(intentJoin, r))
		}
		if got := c.claimant(); got != tc.want {
			t.Errorf("%s: claimant = %q, want %q", tc.name, got, tc.want)
		}
	}
	if c := newCore("a", nil); c.claimant() != "" {
		got := c.claimant()
		t.Errorf("claimant without a ring = %q", got)
	}
}

func TestDerive(t *testing.T) {
	abc := mustRing(t, smallRing, "a", "b", "c")
	type event struct {
		id    string
		alive bool
		meta  []byte
	}
	join := func(id string) event { return event{id, true, meta(intentJoin, abc)} }
	ahead, err := abc.Join(ring.Member{ID: "x", Weight: 1}) // v2, held by a peer
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		self    string
		events  []event
		want    []string // members of the derived ring; nil: no new ring
		version uint64
	}{
		{"nothing to do", "a", []event{join("b"), join("c")}, nil, 0},
		{"not the claimant", "b", []event{join("a"), join("c"), join("d")}, nil, 0},
		{"adds an alive joiner", "a", []event{join("b"), join("c"), join("d")}, []string{"a", "b", "c", "d"}, 2},
		{"not a dead joiner", "a", []event{join("b"), {"d", false, meta(intentJoin, abc)}}, nil, 0},
		{"not a node whose metadata does not decode", "a", []event{{"d", true, []byte("junk")}}, nil, 0},
		{"not a joiner that holds no ring yet", "a", []event{{"d", true, meta(intentJoin, nil)}}, nil, 0},
		{"not a joiner with another ring configuration", "a", []event{{"d", true, meta(intentJoin, mustRing(t, ring.Config{Partitions: 128}, "d"))}}, nil, 0},
		{"a failed member stays", "a", []event{{"b", false, meta(intentJoin, abc)}}, nil, 0},
		{"removes a leaver", "a", []event{{"c", true, meta(intentLeave, abc)}}, []string{"a", "b"}, 2},
		{"removes a dead leaver", "a", []event{{"c", false, meta(intentLeave, abc)}}, []string{"a", "b"}, 2},
		{"leavers and joiners in one change", "a", []event{{"b", true, meta(intentLeave, abc)}, join("e"), join("d")},
			[]string{"a", "c", "d", "e"}, 2},
		{"claimant removes itself", "a", []event{{"a", true, nil}, join("b"), join("c")}, []string{"b", "c"}, 2},
		{"waits while behind", "a", []event{{"b", true, meta(intentJoin, ahead)}, join("d")}, nil, 0},
		{"dead peers ahead do not hold it back", "a", []event{{"b", false, meta(intentJoin, ahead)}, join("d")},
			[]string{"a", "b", "c", "d"}, 2},
		{"weight and zone", "a", []event{{"b", true, nodeMeta{intent: intentJoin, weight: 2, zone: "z2", ring: stampOf(abc), ringConfig: abc.Config()}.appendTo(nil)}},
			[]string{"a", "b", "c"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(tc.self, abc)
			c.setSelf(nodeMeta{intent: intentJoin, weight: 1, ring: stampOf(abc)}, "")
			for _, ev := range tc.events {
				if ev.id == tc.self { // the claimant's own intent to leave
					c.setSelf(nodeMeta{intent: intentLeave, weight: 1, ring: stampOf(abc)}, "")
					continue
				}
				c.observe(ev.id, ev.alive, "127.0.0.1:1", ev.meta)
			}
			next, err := c.derive()
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if next != nil {
					t.Fatalf("derived v%d %v, want nothing", next.Version(), memberIDs(next))
				}
				return
			}
			if next == nil {
				t.Fatalf("derived nothing, want %v", tc.want)
			}
			if got := memberIDs(next); !slices.Equal(got, tc.want) || next.Version() != tc.version || c.ring != next {
				t.Fatalf("derived v%d %v, want v%d %v", next.Version(), got, tc.version, tc.want)
			}
			if again, _ := c.derive(); again != nil {
				t.Fatalf("derived again: v%d", again.Version())
			}
		})
	}
}

func TestDeriveAppliesWeightAndZone(t *testing.T) {
	abc := mustRing(t, smallRing, "a", "b", "c")
	c := coreWith("a", abc, "c")
	c.observe("b", true, "127.0.0.1:1", nodeMeta{intent: intentJoin, weight: 2, zone: "z2", ring: stampOf(abc)}.appendTo(nil))
	next, err := c.derive()
	if err != nil || next == nil {
		t.Fatalf("derive = %v, %v", next, err)
	}
	if m, _ := next.Member("b"); m.Weight != 2 || m.Zone != "z2" {
		t.Fatalf("b in ring = %+v", m)
	}
}

func TestLastMembersCannotAllLeave(t *testing.T) {
	ab := mustRing(t, smallRing, "a", "b")
	c := newCore("a", ab)
	c.setSelf(nodeMeta{intent: intentLeave, weight: 1, ring: stampOf(ab)}, "")
	c.observe("b", true, "127.0.0.1:1", meta(intentLeave, ab))
	if next, err := c.derive(); next != nil || err != nil {
		t.Fatalf("derive = %v, %v; want no change", next, err)
	}
}

func TestMembersAndPrune(t *testing.T) {
	ab := mustRing(t, smallRing, "a", "b", "z")
	c := coreWith("a", ab, "b", "j")
	c.observe("b", false, "127.0.0.1:2", meta(intentJoin, ab))
	c.observe("j", false, "127.0.0.1:3", meta(intentJoin, ab))    // a joiner that died before it was added
	c.observe("l", false, "127.0.0.1:4", meta(intentLeave, ab))   // left the ring, down before it handed off
	c.observe("g", false, "127.0.0.1:5", meta(intentDrained, ab)) // left and handed everything off
	got := c.members()
	// Down and out of the ring, j and l may still hold data (a fallback's
	// writes, records not yet handed off): they stay known, so that a reap
	// waits for them. Only g, which said it holds nothing, is forgotten.
	for _, id := range []string{"j", "l"} {
		if m, ok := got[id]; !ok || m.Alive {
			t.Errorf("%s = %+v (listed %v), want listed and not alive", id, m, ok)
		}
	}
	if _, ok := got["g"]; ok {
		t.Errorf("drained non-member g still listed")
	}
	if m := got["l"]; !m.Leaving || m.Drained {
		t.Errorf("l = %+v, want leaving, not drained", m)
	}
	if m := got["b"]; m.Alive || m.GossipAddr != "127.0.0.1:2" {
		t.Errorf("b = %+v, want listed and not alive", m)
	}
	if m := got["z"]; m.Alive || m.Weight != 1 { // in the ring, never heard from
		t.Errorf("z = %+v, want listed from the ring", m)
	}
	if m := got["a"]; !m.Alive || m.RingVersion != 1 {
		t.Errorf("self = %+v", m)
	}
}

// TestForgottenPeerKeepsAddress: a joiner that heard of the members
// before it held a ring, and then lost them (declared dead; once pruned,
// now kept while it may hold data), must still know where they are once a
// ring naming them arrives, or its reconnect loop has nothing to dial and
// it stays cut off for good (the simulator's seed 88: a joiner paused
// during its join never rejoined).
func TestForgottenPeerKeepsAddress(t *testing.T) {
	members := mustRing(t, smallRing, "a", "b")
	c := newCore("j", nil) // joining: no ring yet
	c.observe("a", true, "10.0.0.1:7946", meta(intentJoin, members))
	c.observe("a", false, "10.0.0.1:7946", meta(intentJoin, members))
	if got := c.offer(members); got != offerAdopted {
		t.Fatalf("offer = %v", got)
	}
	if m := c.members()["a"]; m.Alive || m.GossipAddr != "10.0.0.1:7946" {
		t.Errorf("a = %+v, want down at its last address", m)
	}
	if m := c.members()["b"]; m.GossipAddr != "" {
		t.Errorf("b, never heard from, = %+v, want no address", m)
	}
}

// TestModelConvergence runs several cores that each started alone, with
// rings and metadata delivered between random pairs in random order, and
// checks they end on one ring holding everyone: the tie-break and the
// claimant rule together converge, whatever the order.
func TestModelConvergence(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 2 + rng.IntN(5)
		cores := make([]core, n)
		for i := range cores {
			id := fmt.Sprintf("n%d", i)
			cores[i] = newCore(id, mustRing(t, smallRing, id))
			cores[i].setSelf(nodeMeta{intent: intentJoin, weight: 1, ring: stampOf(cores[i].ring)}, "")
		}
		for round := 0; round < 400 && !modelConverged(cores); round++ {
			i, j := rng.IntN(n), rng.IntN(n)
			// j hears i's metadata (gossip) and ring (a send or push/pull).
			cores[j].observe(cores[i].self, true, "127.0.0.1:1", meta(intentJoin, cores[i].ring))
			cores[j].offer(cores[i].ring)
			if _, err := cores[j].derive(); err != nil {
				t.Fatal(err)
			}
			cores[j].setSelf(nodeMeta{intent: intentJoin, weight: 1, ring: stampOf(cores[j].ring)}, "")
		}
		if !modelConverged(cores) {
			for _, c := range cores {
				t.Logf("%s holds v%d %v", c.self, c.ring.Version(), memberIDs(c.ring))
			}
			t.Fatalf("seed %d: %d nodes did not converge", seed, n)
		}
	}
}

func modelConverged(cores []core) bool {
	for _, c := range cores {
		if !c.ring.Equal(cores[0].ring) || c.ring.Len() != len(cores) {
			return false
		}
	}
	return true
}
