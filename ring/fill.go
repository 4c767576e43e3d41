package ring

import (
	"cmp"
	"slices"
)

// filler hands out holes (every partition of a new ring, or a departed
// member's partitions) to the members still owed partitions.
//
// It walks the holes in ring order. Each member is scheduled like a
// weighted round robin: its k-th hole is due at (k+u)/need of the way round,
// u a per-member jitter in [0,1). At each hole it takes, among the members
// that make no window worse, the one most overdue. The jitter breaks the
// strict period of plain round robin, so a member's successors on the ring
// are many different members and a failed member's load spreads widely.
//
// Members wait in one heap per zone (heap.go); a zone absent near the hole
// prices the same for all its members, so each hole costs
// O(zones + L log members). A change (not a new ring) that finds no member
// fitting a hole tries a rematch (match.go) before it accepts a bad window.
type filler struct {
	pl    *plan
	need  []int   // holes each member was owed when filling began
	got   []int   // holes each member has taken
	took  [][]int // holes each member has taken, for rematching
	heaps []dueHeap
	pos   []int32 // member → index in its zone's heap, -1 when not queued
	near  []int32 // scratch: members within L-1 of the hole
	tight []int32 // members owed 1/(2L) of the ring or more
	stash []int32 // scratch: members popped while looking past near ones
}

func (pl *plan) fillHoles() {
	holes := 0
	for _, o := range pl.owners {
		if o == hole {
			holes++
		}
	}
	if holes == 0 {
		return
	}
	f := newFiller(pl)
	var deferred []int
	for _, h := range f.order() {
		c := f.choose(h)
		if c.cost > 0 && pl.prev != nil {
			deferred = append(deferred, h) // try a rematch below
			continue
		}
		f.assign(h, c.m)
	}
	for _, h := range deferred {
		if !f.rematch(h) {
			f.assign(h, f.choose(h).m)
		}
	}
}

// order lists the holes to fill. A new ring fills in ring order, like a
// round robin. A change fills its scattered holes most constrained first:
// a hole that only members of one zone fit gets them before a hole any
// zone fits uses them up.
func (f *filler) order() []int {
	var holes []int
	for h, o := range f.pl.owners {
		if o == hole {
			holes = append(holes, h)
		}
	}
	if f.pl.prev == nil || f.pl.zones <= 1 {
		return holes
	}
	options := make([]int, len(f.pl.owners))
	for _, h := range holes {
		for z := range f.heaps {
			if len(f.heaps[z].items) > 0 && f.pl.setDelta(h, f.pl.phantom(int32(z))) <= 0 {
				options[h]++
			}
		}
	}
	slices.SortStableFunc(holes, func(a, b int) int { return cmp.Compare(options[a], options[b]) })
	return holes
}

func newFiller(pl *plan) *filler {
	n := pl.members
	f := &filler{pl: pl, need: make([]int, n), got: make([]int, n), pos: make([]int32, n), took: make([][]int, n)}
	f.heaps = make([]dueHeap, len(pl.zoneActive))
	for z := range f.heaps {
		f.heaps[z].f = f
	}
	for m := range n {
		f.pos[m] = -1
		f.need[m] = max(0, pl.quota[m]-pl.count[m])
		if f.need[m] > 0 {
			f.heaps[pl.zoneOf[m]].push(int32(m))
		}
		if 2*pl.window*pl.quota[m] >= len(pl.owners) {
			f.tight = append(f.tight, int32(m))
		}
	}
	return f
}

// before orders members by due time: (got+u)/need, compared exactly in
// integers so every node computes the same ring.
func (f *filler) before(a, b int32) bool {
	x, y := f.due(a)*uint64(f.need[b]), f.due(b)*uint64(f.need[a])
	if x != y {
		return x < y
	}
	return a < b
}

// due is (got+u)·2^16; the member's next hole is due at due/need of the
// way through the holes. The jitter
// u shrinks as the member's share nears 1/L, where it can appear no more
// often than every L partitions: such a member has no slack to lose to
// jitter and must keep its strict period.
func (f *filler) due(m int32) uint64 {
	q := uint64(len(f.pl.owners))
	slack := q - min(q, uint64(f.pl.window)*uint64(f.pl.quota[m]))
	u := uint64(jitter(f.pl.seed[m], f.got[m])) * slack / q
	return uint64(f.got[m])<<16 | u
}

// jitter is a per-member, per-round pseudo-random 16-bit fraction.
func jitter(seed uint64, round int) uint16 {
	return uint16(mix64(seed^uint64(round)*0x9e3779b97f4a7c15) >> 48)
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

type choice struct {
	m    int32
	cost int
}

func (f *filler) better(c choice, best choice) bool {
	if best.m == hole || c.cost < best.cost {
		return true
	}
	return c.cost == best.cost && f.before(c.m, best.m)
}

// choose picks the member for hole h and says what it costs.
func (f *filler) choose(h int) choice {
	pl := f.pl
	f.near = pl.nearby(h, f.near[:0])
	best := choice{m: hole}
	absent, absentKnown := 0, false
	for z := range f.heaps {
		hp := &f.heaps[z]
		if len(hp.items) == 0 {
			continue
		}
		if !f.zoneNear(int32(z)) {
			if !absentKnown {
				absent, absentKnown = pl.setDelta(h, pl.phantom(int32(z))), true
			}
			if c := (choice{hp.items[0], absent}); f.better(c, best) {
				best = c
			}
			continue
		}
		if m := f.firstNotNear(hp); m != hole {
			if c := (choice{m, pl.setDelta(h, pl.phantom(int32(z)))}); f.better(c, best) {
				best = c
			}
		}
	}
	for _, m := range f.near {
		if f.pos[m] >= 0 {
			if c := (choice{m, pl.setDelta(h, m)}); f.better(c, best) {
				best = c
			}
		}
	}
	if c := f.critical(h, best.cost); c.m != hole {
		return c
	}
	return best
}

// critical returns the tight member with the least laxity if it has run
// out of it and fits at h no worse than cost. A member that can appear at
// most every L partitions and is owed nearly that many must not wait for
// the due order: if it falls behind, the last partitions have to repeat it.
// Laxity is the partitions left from h less L per partition still owed.
func (f *filler) critical(h int, cost int) choice {
	best, bestLax := choice{m: hole}, 0
	for _, m := range f.tight {
		left := f.need[m] - f.got[m]
		if left <= 0 {
			continue
		}
		lax := len(f.pl.owners) - h - f.pl.window*left
		if lax >= f.pl.window || (best.m != hole && lax >= bestLax) {
			continue
		}
		if c := f.pl.setDelta(h, m); c <= cost {
			best, bestLax = choice{m, c}, lax
		}
	}
	return best
}

func (f *filler) zoneNear(z int32) bool {
	for _, m := range f.near {
		if f.pl.zoneOf[m] == z {
			return true
		}
	}
	return false
}

// firstNotNear returns the most overdue member of hp not already near the
// hole, or hole if every queued member is near.
func (f *filler) firstNotNear(hp *dueHeap) int32 {
	found := int32(hole)
	f.stash = f.stash[:0]
	for len(hp.items) > 0 {
		m := hp.items[0]
		if !contains(f.near, m) {
			found = m
			break
		}
		f.stash = append(f.stash, hp.pop())
	}
	for _, m := range f.stash {
		hp.push(m)
	}
	return found
}

func (f *filler) assign(h int, m int32) {
	f.pl.give(h, m)
	f.got[m]++
	f.took[m] = append(f.took[m], h)
	hp := &f.heaps[f.pl.zoneOf[m]]
	if f.got[m] >= f.need[m] {
		hp.remove(f.pos[m])
	} else {
		hp.fix(f.pos[m])
	}
}

// unassign makes h a hole again, undoing m's assign.
func (f *filler) unassign(h int, m int32) {
	f.pl.owners[h] = hole
	f.pl.count[m]--
	f.got[m]--
	f.took[m] = slices.DeleteFunc(f.took[m], func(x int) bool { return x == h })
	hp := &f.heaps[f.pl.zoneOf[m]]
	if f.pos[m] < 0 {
		hp.push(m)
	} else {
		hp.fix(f.pos[m])
	}
}

// nearby appends the distinct members within L-1 partitions of i.
func (pl *plan) nearby(i int, dst []int32) []int32 {
	for d := 1 - pl.window; d < pl.window; d++ {
		if d == 0 {
			continue
		}
		if o := pl.owners[(i+d)&pl.mask]; o != hole && !contains(dst, o) {
			dst = append(dst, o)
		}
	}
	return dst
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
