package ring

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestPartitionMath(t *testing.T) {
	for bits := 0; bits <= 16; bits++ {
		q := 1 << bits
		r := mustNew(t, Config{Partitions: q}, equalMembers(1, 0))
		if r.Partitions() != q {
			t.Fatalf("Partitions() = %d, want %d", r.Partitions(), q)
		}
		if p := r.Partition(0); p != 0 {
			t.Errorf("Q=%d: Partition(0) = %d", q, p)
		}
		if p := r.Partition(math.MaxUint64); p != q-1 {
			t.Errorf("Q=%d: Partition(max) = %d, want %d", q, p, q-1)
		}
		width := uint64(0) // 2^64/q, written so that q == 1 wraps to 0
		if q > 1 {
			width = 1 << (64 - bits)
		}
		for _, p := range []int{0, 1, q / 2, q - 2, q - 1} {
			if p < 0 || p >= q {
				continue
			}
			lo, hi := r.PartitionRange(p)
			if lo != uint64(p)*width {
				t.Errorf("Q=%d p=%d: lo = %#x, want %#x", q, p, lo, uint64(p)*width)
			}
			last := hi - 1 // hi == 0 (end of space) wraps to MaxUint64
			if p == q-1 && hi != 0 {
				t.Errorf("Q=%d: last partition hi = %#x, want 0 (end)", q, hi)
			}
			if p < q-1 && hi != lo+width {
				t.Errorf("Q=%d p=%d: hi = %#x, want %#x", q, p, hi, lo+width)
			}
			if r.Partition(lo) != p || r.Partition(last) != p {
				t.Errorf("Q=%d p=%d: range [%#x, %#x] maps to %d..%d", q, p, lo, last, r.Partition(lo), r.Partition(last))
			}
			if p+1 < q {
				if next, _ := r.PartitionRange(p + 1); next != hi {
					t.Errorf("Q=%d p=%d: ranges not contiguous: hi %#x, next lo %#x", q, p, hi, next)
				}
			}
		}
	}
}

func TestKeyPartitionUsesHashKey(t *testing.T) {
	r := mustNew(t, Config{Partitions: 256}, equalMembers(4, 0))
	for _, k := range []string{"", "a", "user:42", strings.Repeat("x", 250)} {
		h := HashKey([]byte(k))
		if got, want := r.KeyPartition([]byte(k)), int(h>>56); got != want {
			t.Errorf("KeyPartition(%q) = %d, want top byte of hash %d", k, got, want)
		}
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		members []Member
		want    error
	}{
		{"Q not a power of two", Config{Partitions: 3}, equalMembers(1, 0), ErrPartitions},
		{"Q negative", Config{Partitions: -4}, equalMembers(1, 0), ErrPartitions},
		{"Q too large", Config{Partitions: 1 << 17}, equalMembers(1, 0), ErrPartitions},
		{"replicas too large", Config{Replicas: 17}, equalMembers(1, 0), ErrReplicas},
		{"replicas negative", Config{Replicas: -1}, equalMembers(1, 0), ErrReplicas},
		{"no members", Config{}, nil, ErrNoMembers},
		{"more members than partitions", Config{Partitions: 4}, equalMembers(5, 0), ErrTooManyMembers},
		{"empty ID", Config{}, []Member{{ID: "", Weight: 1}}, ErrMemberID},
		{"ID too long", Config{}, []Member{{ID: strings.Repeat("a", 256), Weight: 1}}, ErrMemberID},
		{"zone too long", Config{}, []Member{{ID: "a", Zone: strings.Repeat("z", 256), Weight: 1}}, ErrZone},
		{"zero weight", Config{}, []Member{{ID: "a"}}, ErrWeight},
		{"negative weight", Config{}, []Member{{ID: "a", Weight: -1}}, ErrWeight},
		{"NaN weight", Config{}, []Member{{ID: "a", Weight: math.NaN()}}, ErrWeight},
		{"infinite weight", Config{}, []Member{{ID: "a", Weight: math.Inf(1)}}, ErrWeight},
		{"duplicate ID", Config{}, []Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}, {ID: "a", Weight: 2}}, ErrDuplicateMember},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.cfg, tt.members)
			if !errors.Is(err, tt.want) || r != nil {
				t.Fatalf("New = %v, %v; want error %v", r, err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	r := mustNew(t, Config{}, equalMembers(5, 0))
	if got := r.Config(); got != (Config{Partitions: DefaultPartitions, Replicas: DefaultReplicas}) {
		t.Fatalf("Config() = %+v", got)
	}
	if r.Version() != 1 {
		t.Fatalf("Version() = %d, want 1", r.Version())
	}
}

func TestMembershipErrors(t *testing.T) {
	r := mustNew(t, Config{Partitions: 64}, equalMembers(3, 0))
	if _, err := r.Join(Member{ID: "m001", Weight: 1}); !errors.Is(err, ErrDuplicateMember) {
		t.Errorf("Join(existing) = %v, want ErrDuplicateMember", err)
	}
	if _, err := r.Join(Member{ID: "new", Weight: 0}); !errors.Is(err, ErrWeight) {
		t.Errorf("Join(zero weight) = %v, want ErrWeight", err)
	}
	if _, err := r.Leave("nobody"); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("Leave(unknown) = %v, want ErrUnknownMember", err)
	}
	one := mustNew(t, Config{Partitions: 64}, equalMembers(1, 0))
	if _, err := one.Leave("m000"); !errors.Is(err, ErrNoMembers) {
		t.Errorf("Leave(last) = %v, want ErrNoMembers", err)
	}
	full := mustNew(t, Config{Partitions: 2}, equalMembers(2, 0))
	if _, err := full.Join(Member{ID: "x", Weight: 1}); !errors.Is(err, ErrTooManyMembers) {
		t.Errorf("Join past Q = %v, want ErrTooManyMembers", err)
	}
	if _, err := r.PreferenceList(0, 4, nil); !errors.Is(err, ErrTooFewMembers) {
		t.Errorf("PreferenceList(n > members) = %v, want ErrTooFewMembers", err)
	}
	if _, err := r.PreferenceList(0, 0, nil); !errors.Is(err, ErrReplicas) {
		t.Errorf("PreferenceList(n = 0) = %v, want ErrReplicas", err)
	}
	for _, p := range []int{-1, 64} {
		if _, err := r.PreferenceList(p, 1, nil); !errors.Is(err, ErrPartition) {
			t.Errorf("PreferenceList(p = %d) = %v, want ErrPartition", p, err)
		}
	}
	other := mustNew(t, Config{Partitions: 128}, equalMembers(3, 0))
	if _, err := r.Moved(other); !errors.Is(err, ErrMismatch) {
		t.Errorf("Moved(other Q) = %v, want ErrMismatch", err)
	}
	if _, err := r.Diff(other); !errors.Is(err, ErrMismatch) {
		t.Errorf("Diff(other Q) = %v, want ErrMismatch", err)
	}
	same, err := r.Update(r.Members())
	if err != nil || same != r {
		t.Errorf("Update(same members) = %p, %v; want the ring itself", same, err)
	}
}

func TestEqualSharesWithinOne(t *testing.T) {
	for _, tt := range []struct{ q, n, replicas int }{
		{1, 1, 3}, {2, 2, 3}, {16, 3, 3}, {64, 5, 3}, {1024, 7, 3}, {1024, 100, 3},
		{1024, 1000, 3}, {4096, 1000, 3}, {256, 17, 1}, {256, 17, 5}, {65536, 33, 3},
	} {
		r := mustNew(t, Config{Partitions: tt.q, Replicas: tt.replicas}, equalMembers(tt.n, 0))
		ideal := float64(tt.q) / float64(tt.n)
		for id, c := range owned(r) {
			if math.Abs(float64(c)-ideal) >= 1 {
				t.Errorf("Q=%d members=%d: %s owns %d, ideal %.2f", tt.q, tt.n, id, c, ideal)
			}
		}
		if len(owned(r)) != tt.n {
			t.Errorf("Q=%d members=%d: only %d members own partitions", tt.q, tt.n, len(owned(r)))
		}
	}
}

func TestWeightedShares(t *testing.T) {
	ms := []Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 2}, {ID: "c", Weight: 1}, {ID: "d", Weight: 4},
		{ID: "e", Weight: 1}, {ID: "f", Weight: 1}, {ID: "g", Weight: 2}, {ID: "h", Weight: 0.5}}
	total := 0.0
	for _, m := range ms {
		total += m.Weight
	}
	for _, q := range []int{256, 1024, 65536} {
		r := mustNew(t, Config{Partitions: q}, ms)
		got := owned(r)
		for _, m := range ms {
			ideal := float64(q) * m.Weight / total
			if math.Abs(float64(got[m.ID])-ideal) >= 1 {
				t.Errorf("Q=%d: %s (weight %v) owns %d, ideal %.2f", q, m.ID, m.Weight, got[m.ID], ideal)
			}
		}
		if d := got["b"] - 2*got["a"]; d < -2 || d > 2 {
			t.Errorf("Q=%d: weight 2 owns %d, weight 1 owns %d", q, got["b"], got["a"])
		}
		st := r.Stats()
		if st.NodeViolations != 0 || st.ReplicaImbalance > st.BestImbalance+1e-9 {
			t.Errorf("Q=%d: %d bad windows, replica imbalance %.4f (best %.4f)", q, st.NodeViolations, st.ReplicaImbalance, st.BestImbalance)
		}
	}
}

// A member heavier than 1/N of the total cannot hold more than one replica
// per partition: its share is capped and the rest spread by weight.
func TestHeavyMemberIsCapped(t *testing.T) {
	ms := []Member{{ID: "big", Weight: 10}, {ID: "a", Weight: 1}, {ID: "b", Weight: 1}, {ID: "c", Weight: 1}}
	r := mustNew(t, Config{Partitions: 1024, Replicas: 3}, ms)
	got := owned(r)
	if got["big"] != 341 && got["big"] != 342 {
		t.Fatalf("big owns %d, want Q/3", got["big"])
	}
	for _, id := range []string{"a", "b", "c"} {
		if got[id] < 227 || got[id] > 228 {
			t.Errorf("%s owns %d, want (Q-Q/3)/3", id, got[id])
		}
	}
	if st := r.Stats(); st.NodeViolations > 2 {
		t.Errorf("%d windows repeat a member", st.NodeViolations)
	}
}

func TestPreferenceListsAgreeWithDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 60 {
		q := 1 << (rng.IntN(8) + 1)
		n := 1 + rng.IntN(min(q, 12))
		zones := rng.IntN(5)
		cfg := Config{Partitions: q, Replicas: 1 + rng.IntN(5)}
		ms := randomMembers(rng, n, zones, "n")
		var r *Ring
		if trial%2 == 0 {
			r = mustNew(t, cfg, ms)
		} else {
			// Arbitrary owner tables, some members owning nothing: the
			// order must follow the definition on any ring, not just on
			// the well-placed ones New builds.
			ms, _ = normalize(ms, q)
			owners := make([]uint16, q)
			for p := range owners {
				owners[p] = uint16(rng.IntN(n))
			}
			r = assemble(cfg, ms, owners, 1, nil)
		}
		for p := range q {
			got, err := r.ExtendedList(p, nil)
			if want := naiveOrder(r, p); err != nil || !slices.Equal(got, want) {
				t.Fatalf("trial %d p=%d: ExtendedList = %v, %v; definition gives %v", trial, p, got, err, want)
			}
		}
		checkPreferenceLists(t, r)
	}
}

// With every window good, a partition's N replicas are exactly the owners
// of it and its N-1 successors, and replica load is N times ownership.
func TestWindowsMakeReplicasConsecutive(t *testing.T) {
	for _, tt := range []struct{ q, n, zones, replicas int }{
		{64, 4, 0, 3}, {1024, 8, 0, 3}, {1024, 64, 0, 3}, {4096, 100, 0, 3}, {1024, 12, 0, 5},
		{1024, 12, 2, 3}, {1024, 12, 4, 3}, {4096, 30, 3, 3}, {1024, 16, 4, 4},
	} {
		r := mustNew(t, Config{Partitions: tt.q, Replicas: tt.replicas}, equalMembers(tt.n, tt.zones))
		st := r.Stats()
		// Q=1024 over 3 zones cannot be split evenly: at most 2 windows
		// can be balanced no better than 342/341/341 allows.
		if st.NodeViolations != 0 || st.ZoneViolations > 2 {
			t.Errorf("%+v: %d node and %d zone violations", tt, st.NodeViolations, st.ZoneViolations)
			continue
		}
		if st.ZoneViolations > 0 {
			continue
		}
		owners := r.Owners()
		for p := range tt.q {
			got, _ := r.PreferenceList(p, tt.replicas, nil)
			var want []string
			for k := range tt.replicas {
				want = append(want, owners[(p+k)%tt.q])
			}
			if !slices.Equal(sortedCopy(got), sortedCopy(want)) {
				t.Fatalf("%+v p=%d: replicas %v, next owners %v", tt, p, got, want)
			}
		}
		if math.Abs(st.ReplicaImbalance-st.PrimaryImbalance) > 1e-9 {
			t.Errorf("%+v: replica imbalance %.4f != primary %.4f", tt, st.ReplicaImbalance, st.PrimaryImbalance)
		}
	}
}

func TestDeterministic(t *testing.T) {
	ms := equalMembers(20, 3)
	ms[3].Weight, ms[7].Weight = 2, 0.5
	cfg := Config{Partitions: 512}
	a := mustNew(t, cfg, ms)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5 {
		shuffled := slices.Clone(ms)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		b := mustNew(t, cfg, shuffled)
		if !a.Equal(b) || !slices.Equal(a.Encode(), b.Encode()) {
			t.Fatal("member order changed the ring")
		}
		ja, _ := a.Join(Member{ID: "new", Zone: "z1", Weight: 1})
		jb, _ := b.Join(Member{ID: "new", Zone: "z1", Weight: 1})
		la, _ := ja.Leave("m005")
		lb, _ := jb.Leave("m005")
		if !la.Equal(lb) || la.Fingerprint() != lb.Fingerprint() {
			t.Fatal("the same changes gave different rings")
		}
	}
	c := mustNew(t, Config{Partitions: 512, Replicas: 4}, ms)
	if c.Equal(a) || c.Fingerprint() == a.Fingerprint() {
		t.Fatal("different configs gave equal rings")
	}
}

// The table of the first 2·Replicas entries stops each walk early; every
// prefix it yields must match the full walk, on any owner table.
func TestOrderPrefixesMatchFullWalk(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		q := 1 << (1 + rng.IntN(6))
		n := 1 + rng.IntN(min(q, 12))
		ms, _ := normalize(randomMembers(rng, n, rng.IntN(5), "n"), q)
		owners := make([]uint16, q)
		for p := range owners {
			owners[p] = uint16(rng.IntN(n))
		}
		r := assemble(Config{Partitions: q, Replicas: 1}, ms, owners, 1, nil)
		w := newWalker(r)
		for p := range q {
			full := w.order(p, n, nil)
			for k := 1; k <= n; k++ {
				if got := w.order(p, k, nil); !slices.Equal(got, full[:k]) {
					t.Fatalf("seed %d p=%d: first %d = %v, full order %v", seed, p, k, got, full)
				}
			}
		}
	}
}

// The request path must not allocate: a preference list of up to
// 2·Replicas members comes from the precomputed table into dst.
func TestPreferenceListDoesNotAllocate(t *testing.T) {
	r := mustNew(t, Config{Partitions: 1024}, equalMembers(30, 3))
	dst := make([]string, 0, 6)
	for _, n := range []int{1, 3, 6} {
		allocs := testing.AllocsPerRun(100, func() {
			dst, _ = r.PreferenceList(rand.IntN(1024), n, dst[:0])
			_ = r.Partition(rand.Uint64())
		})
		if allocs != 0 {
			t.Errorf("PreferenceList(n=%d) allocates %.1f times", n, allocs)
		}
	}
}

func TestApportion(t *testing.T) {
	for _, tt := range []struct {
		total int
		exact []float64
		held  []int
		want  []int
	}{
		{10, []float64{3.5, 3.5, 3}, nil, []int{4, 3, 3}},            // tie on remainder: lower index
		{10, []float64{3.5, 3.5, 3}, []int{3, 4, 3}, []int{3, 4, 3}}, // the holder keeps its ceiling
		{7, []float64{2.2, 2.9, 1.9}, nil, []int{2, 3, 2}},
		{4, []float64{1, 1, 1, 1}, nil, []int{1, 1, 1, 1}},
		{4, []float64{1.0000001, 1, 1, 0.9999999}, nil, []int{1, 1, 1, 1}},
		{3, []float64{1.5, 1.5}, []int{0, 5}, []int{1, 2}},
	} {
		if got := apportion(tt.total, tt.exact, tt.held); !slices.Equal(got, tt.want) {
			t.Errorf("apportion(%d, %v, %v) = %v, want %v", tt.total, tt.exact, tt.held, got, tt.want)
		}
	}
}

// Zones are rounded before members: 64 members over three zones of 22, 21
// and 21 must leave each zone a third of the ring, not give all 22 members
// of the big zone their ceiling.
func TestZoneQuotasRoundAsZones(t *testing.T) {
	r := mustNew(t, Config{Partitions: 1024}, equalMembers(64, 3))
	perZone := map[string]int{}
	for id, n := range owned(r) {
		m, _ := r.Member(id)
		perZone[m.Zone] += n
	}
	for z, n := range perZone {
		if n < 341 || n > 342 {
			t.Errorf("zone %s owns %d partitions, want 341 or 342", z, n)
		}
	}
	if st := r.Stats(); st.ZoneViolations > 2 || math.Abs(st.ReplicaImbalance-st.BestImbalance) > 1e-9 {
		t.Errorf("%+v", st)
	}
}

func TestRemoveRetiresIDsForGood(t *testing.T) {
	cfg := Config{Partitions: 64, Replicas: 3}
	r := mustNew(t, cfg, equalMembers(5, 0))
	rest := r.Members()[:0:0]
	for _, m := range r.Members() {
		if m.ID != "m002" {
			rest = append(rest, m)
		}
	}
	next, err := r.Remove(rest, "m002")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := next.Member("m002"); ok || !next.Removed("m002") || next.Version() != r.Version()+1 {
		t.Fatalf("after Remove: member=%v removed=%v version %d", ok, next.Removed("m002"), next.Version())
	}
	// It moves partitions exactly as a leave would.
	left, err := r.Leave("m002")
	if err != nil || !slices.Equal(left.Owners(), next.Owners()) {
		t.Fatalf("Remove placed partitions unlike Leave: %v", err)
	}
	// Later rings keep the ID removed, and it cannot come back.
	later, err := next.Update(append(next.Members(), Member{ID: "m9", Weight: 1}))
	if err != nil || !later.Removed("m002") {
		t.Fatalf("a later ring forgot the removal: %v", err)
	}
	if _, err := later.Join(Member{ID: "m002", Weight: 1}); !errors.Is(err, ErrRemovedMember) {
		t.Fatalf("rejoin of a removed ID: %v", err)
	}
	if _, err := later.Remove(later.Members(), later.Members()[0].ID); !errors.Is(err, ErrDuplicateMember) {
		t.Fatalf("removing an ID that also stays: %v", err)
	}
	// Removing an ID that is no member records it alone (the ring does not
	// move); removing it again changes nothing.
	again, err := later.Remove(later.Members(), "gone")
	if err != nil || !again.Removed("gone") || again.Version() != later.Version()+1 || !slices.Equal(again.Owners(), later.Owners()) {
		t.Fatalf("recording a non-member: %v", err)
	}
	if same, err := again.Remove(again.Members(), "gone"); err != nil || same != again {
		t.Fatalf("removing twice made a new ring: %v", err)
	}
	// The removed set survives encoding; a ring without one keeps format 1.
	back, err := Decode(again.Encode())
	if err != nil || !back.Equal(again) || !slices.Equal(back.RemovedIDs(), []string{"gone", "m002"}) {
		t.Fatalf("round trip: %v %v", err, back.RemovedIDs())
	}
	if r.Encode()[4] != 1 || again.Encode()[4] != 2 {
		t.Fatalf("formats %d, %d; want 1 and 2", r.Encode()[4], again.Encode()[4])
	}
}
