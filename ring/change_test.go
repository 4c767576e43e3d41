package ring

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// A join must move at least what the newcomer ends up owning; a leave at
// least what the leaver owned. Placement should come close to both.
func TestJoinLeaveMovement(t *testing.T) {
	for _, tt := range []struct {
		q, n, zones int
		slack       float64 // allowed extra moves, as a fraction of the minimum
	}{
		{1024, 8, 0, 0.05}, {1024, 16, 0, 0.05}, {1024, 64, 0, 0.05}, {4096, 100, 0, 0.05},
		{4096, 16, 0, 0.05}, {65536, 1000, 0, 0.05}, {1024, 12, 3, 0.05}, {4096, 48, 3, 0.05},
		// Where a change shifts the zones' shares (more zones than
		// replicas, or fewer), the zone pattern of the ring must shift too,
		// and a cluster of five has little room: these move more.
		{1024, 16, 4, 0.75}, {1024, 12, 2, 0.75}, {256, 5, 0, 0.75},
	} {
		t.Run(fmt.Sprintf("Q%d-n%d-z%d", tt.q, tt.n, tt.zones), func(t *testing.T) {
			r := mustNew(t, Config{Partitions: tt.q}, equalMembers(tt.n, tt.zones))
			zone := ""
			if tt.zones > 0 {
				zone = "z1"
			}
			joined, err := r.Join(Member{ID: "new", Zone: zone, Weight: 1})
			if err != nil {
				t.Fatal(err)
			}
			if joined.Version() != r.Version()+1 {
				t.Fatalf("join version %d, want %d", joined.Version(), r.Version()+1)
			}
			minimum := owned(joined)["new"]
			if moved := ownerChanges(r, joined); moved < minimum || float64(moved) > float64(minimum)*(1+tt.slack)+1 {
				t.Errorf("join moved %d partitions, minimum %d", moved, minimum)
			}
			leaver := r.Members()[tt.n/2].ID
			left, err := r.Leave(leaver)
			if err != nil {
				t.Fatal(err)
			}
			minimum = owned(r)[leaver]
			if moved := ownerChanges(r, left); moved < minimum || float64(moved) > float64(minimum)*(1+tt.slack)+1 {
				t.Errorf("leave moved %d partitions, minimum %d", moved, minimum)
			}
			checkInvariants(t, joined)
			checkInvariants(t, left)
		})
	}
}

// When zones are as many as replicas and equal, a node joining one zone
// takes partitions and replicas only from its own zone: preference lists
// hold one replica per zone, so nothing else needs to move.
func TestJoinMovesOnlyInsideZone(t *testing.T) {
	r := mustNew(t, Config{Partitions: 1024}, equalMembers(12, 3))
	joined, err := r.Join(Member{ID: "new", Zone: "z2", Weight: 1})
	if err != nil {
		t.Fatal(err)
	}
	diff, err := r.Diff(joined)
	if err != nil {
		t.Fatal(err)
	}
	gained := 0
	for _, c := range diff {
		for _, id := range c.Removed {
			if m, _ := r.Member(id); m.Zone != "z2" {
				t.Fatalf("partition %d: replica moved off %s in zone %s", c.Partition, id, m.Zone)
			}
		}
		for _, id := range c.Added {
			if id != "new" {
				t.Fatalf("partition %d: replica added to %s, not the newcomer", c.Partition, id)
			}
			gained++
		}
	}
	if want := len(joined.Replicated("new")); gained != want {
		t.Fatalf("newcomer gained %d replicas, holds %d", gained, want)
	}
	back, err := joined.Leave("new")
	if err != nil {
		t.Fatal(err)
	}
	if st := back.Stats(); st.ZoneViolations > 2 || st.NodeViolations > 0 {
		t.Fatalf("after leave: %+v", st)
	}
}

func TestMovedAndDiffAgree(t *testing.T) {
	r := mustNew(t, Config{Partitions: 256}, equalMembers(10, 0))
	next, err := r.Join(Member{ID: "new", Weight: 2})
	if err != nil {
		t.Fatal(err)
	}
	moved, _ := r.Moved(next)
	diff, _ := r.Diff(next)
	changedSets := map[int]bool{}
	for _, c := range diff {
		changedSets[c.Partition] = true
		before, _ := r.PreferenceList(c.Partition, 3, nil)
		after, _ := next.PreferenceList(c.Partition, 3, nil)
		for _, id := range c.Added {
			if slices.Contains(before, id) || !slices.Contains(after, id) {
				t.Fatalf("partition %d: %s wrongly listed as added", c.Partition, id)
			}
		}
		for _, id := range c.Removed {
			if !slices.Contains(before, id) || slices.Contains(after, id) {
				t.Fatalf("partition %d: %s wrongly listed as removed", c.Partition, id)
			}
		}
	}
	for p := range r.Partitions() {
		before, _ := r.PreferenceList(p, 3, nil)
		after, _ := next.PreferenceList(p, 3, nil)
		inMoved := slices.Contains(moved, p)
		if inMoved != !slices.Equal(before, after) {
			t.Fatalf("partition %d: in Moved = %v, lists %v -> %v", p, inMoved, before, after)
		}
		if changedSets[p] && !inMoved {
			t.Fatalf("partition %d changed replicas but is not in Moved", p)
		}
	}
	if len(diff) == 0 {
		t.Fatal("a join changed no replica set")
	}
	if same, _ := r.Moved(r); len(same) != 0 {
		t.Fatalf("Moved(self) = %v", same)
	}
}

// Random sequences of joins, leaves and weight or zone changes, checking
// every invariant after each step and the movement against its minimum.
func TestRandomMembershipSequences(t *testing.T) {
	steps := 25
	if testing.Short() {
		steps = 8
	}
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 99))
		q := 1 << (4 + rng.IntN(7)) // 16 .. 1024
		zones := rng.IntN(4)
		cfg := Config{Partitions: q, Replicas: 1 + rng.IntN(4)}
		r := mustNew(t, cfg, randomMembers(rng, 1+rng.IntN(min(q, 10)), zones, "s"))
		checkInvariants(t, r)
		next := 0
		for step := range steps {
			before := r
			ms := r.Members()
			var err error
			var kind string
			switch op := rng.IntN(5); {
			case op < 2 && len(ms) < q:
				kind = "join"
				r, err = r.Join(randomMember(rng, fmt.Sprintf("j%03d", next), zones))
				next++
			case op < 4 && len(ms) > 1:
				kind = "leave"
				r, err = r.Leave(ms[rng.IntN(len(ms))].ID)
			default:
				kind = "reweigh"
				i := rng.IntN(len(ms))
				ms[i] = randomMember(rng, ms[i].ID, zones)
				r, err = r.Update(ms)
			}
			if err != nil {
				t.Fatalf("seed %d step %d %s: %v", seed, step, kind, err)
			}
			if r.Version() != before.Version()+1 && r != before {
				t.Fatalf("seed %d step %d: version %d after %d", seed, step, r.Version(), before.Version())
			}
			checkInvariants(t, r)
			checkMovement(t, before, r, fmt.Sprintf("seed %d step %d %s", seed, step, kind))
		}
	}
}

// checkMovement: partitions change owner only as far as quotas force, plus
// at most a bounded number of repair swaps. The least any placement can
// move is the sum of ownership decreases (members leaving or shrinking).
func checkMovement(t *testing.T, a, b *Ring, what string) {
	t.Helper()
	from, to := owned(a), owned(b)
	minimum := 0
	for id, n := range from {
		minimum += max(0, n-to[id])
	}
	moved := ownerChanges(a, b)
	if moved < minimum {
		t.Fatalf("%s: moved %d partitions, below the minimum %d (counting is wrong)", what, moved, minimum)
	}
	if limit := 2*minimum + a.Partitions()/8 + 2; moved > limit {
		t.Fatalf("%s: moved %d partitions, minimum %d, limit %d", what, moved, minimum, limit)
	}
}
