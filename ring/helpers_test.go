package ring

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// equalMembers returns n members of weight 1 named m000, m001, ... spread
// round-robin over zones zones (none when zones is 0).
func equalMembers(n, zones int) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("m%03d", i), Weight: 1}
		if zones > 0 {
			ms[i].Zone = fmt.Sprintf("z%d", i%zones)
		}
	}
	return ms
}

func mustNew(t testing.TB, cfg Config, ms []Member) *Ring {
	t.Helper()
	r, err := New(cfg, ms)
	if err != nil {
		t.Fatalf("New(%+v, %d members): %v", cfg, len(ms), err)
	}
	return r
}

// owned counts partitions per member ID.
func owned(r *Ring) map[string]int {
	out := map[string]int{}
	for _, o := range r.Owners() {
		out[o]++
	}
	return out
}

// ownerChanges counts partitions whose owner differs between a and b.
func ownerChanges(a, b *Ring) int {
	x, y := a.Owners(), b.Owners()
	n := 0
	for p := range x {
		if x[p] != y[p] {
			n++
		}
	}
	return n
}

// naiveOrder is the preference order of partition p straight from its
// definition in walk.go, computed the slow way: pass l walks the whole ring
// and takes, for every zone that has exactly l members listed so far, the
// first member of that zone not yet listed. Idle members (no partitions)
// follow in ID order.
func naiveOrder(r *Ring, p int) []string {
	q := r.Partitions()
	owners := r.Owners()
	listed := map[string]bool{}
	perZone := map[string]int{}
	var out []string
	owning := len(owned(r))
	for level := 0; len(out) < owning; level++ {
		for step := range q {
			id := owners[(p+step)%q]
			m, _ := r.Member(id)
			if listed[id] || perZone[m.Zone] != level {
				continue
			}
			listed[id] = true
			perZone[m.Zone]++
			out = append(out, id)
		}
	}
	for _, m := range r.Members() {
		if !listed[m.ID] {
			out = append(out, m.ID)
		}
	}
	return out
}

// randomMembers draws n members with weights in [0.5, 3) and zones among
// zones (none when zones is 0).
func randomMembers(rng *rand.Rand, n, zones int, prefix string) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = randomMember(rng, fmt.Sprintf("%s%03d", prefix, i), zones)
	}
	return ms
}

func randomMember(rng *rand.Rand, id string, zones int) Member {
	m := Member{ID: id, Weight: 0.5 + 2.5*rng.Float64()}
	if zones > 0 {
		m.Zone = fmt.Sprintf("z%d", rng.IntN(zones))
	}
	return m
}

// checkInvariants verifies what every ring must satisfy.
func checkInvariants(t *testing.T, r *Ring) {
	t.Helper()
	checkQuotas(t, r)
	checkPreferenceLists(t, r)
	checkRoundTrip(t, r)
}

// checkQuotas: every member owns the floor or ceiling of its target share.
func checkQuotas(t *testing.T, r *Ring) {
	t.Helper()
	ms := r.Members()
	_, zoneOf := zoneIndex(ms)
	shares := targetShares(ms, zoneOf, len(r.Zones()), r.Config().Replicas)
	got := owned(r)
	total := 0
	for i, m := range ms {
		exact := float64(r.Partitions()) * shares[i]
		if n := got[m.ID]; float64(n) <= exact-1 || float64(n) >= exact+1 {
			t.Fatalf("member %s owns %d partitions, target %.3f", m.ID, n, exact)
		}
		total += got[m.ID]
	}
	if total != r.Partitions() {
		t.Fatalf("owned partitions sum to %d, want %d", total, r.Partitions())
	}
}

// checkPreferenceLists: for every partition the extended list holds every
// member once, starts with the owner, spreads zones first, and every
// shorter preference list is its prefix.
func checkPreferenceLists(t *testing.T, r *Ring) {
	t.Helper()
	zoneOf := map[string]string{}
	for _, m := range r.Members() {
		zoneOf[m.ID] = m.Zone
	}
	owningZones := map[string]bool{}
	for id := range owned(r) {
		owningZones[zoneOf[id]] = true
	}
	zoneCount := len(owningZones)
	var ext, short []string
	// The extended list walks the ring; on big rings check a sample.
	stride := max(1, r.Partitions()*r.Len()>>20)
	for p := 0; p < r.Partitions(); p += stride {
		var err error
		ext, err = r.ExtendedList(p, ext[:0])
		if err != nil {
			t.Fatal(err)
		}
		if len(ext) != r.Len() {
			t.Fatalf("partition %d: extended list has %d entries, want %d", p, len(ext), r.Len())
		}
		if len(slices.Compact(sortedCopy(ext))) != r.Len() {
			t.Fatalf("partition %d: extended list repeats a member: %v", p, ext)
		}
		if ext[0] != r.Owner(p) {
			t.Fatalf("partition %d: list starts with %s, owner is %s", p, ext[0], r.Owner(p))
		}
		for n := 1; n <= min(r.Len(), 2*r.Config().Replicas+1); n++ {
			short, err = r.PreferenceList(p, n, short[:0])
			if err != nil || !slices.Equal(short, ext[:n]) {
				t.Fatalf("partition %d: PreferenceList(%d) = %v, %v; want prefix %v", p, n, short, err, ext[:n])
			}
		}
		spread := map[string]bool{}
		for _, id := range ext[:min(zoneCount, len(ext))] {
			spread[zoneOf[id]] = true
		}
		if len(spread) != min(zoneCount, len(ext)) {
			t.Fatalf("partition %d: first %d entries %v span %d zones", p, zoneCount, ext[:zoneCount], len(spread))
		}
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func checkRoundTrip(t *testing.T, r *Ring) {
	t.Helper()
	enc := r.Encode()
	back, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode(Encode()): %v", err)
	}
	if !back.Equal(r) || back.Version() != r.Version() || back.Fingerprint() != r.Fingerprint() {
		t.Fatalf("round trip changed the ring")
	}
	if !slices.Equal(back.prefs, r.prefs) {
		t.Fatalf("round trip changed the preference table")
	}
}
