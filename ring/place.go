package ring

// This file holds the working state of a placement and the measure it
// minimises. The phases that use it are in fill.go, steal.go and repair.go.

// hole marks a partition no member has been given yet.
const hole = -1

// plan is the working state of one placement: who owns each partition and
// what each member is owed. It lives only while a ring is being built.
//
// Placement minimises the badness of windows: runs of L consecutive
// partitions, L = min(Replicas, members that own partitions). A window is
// good when its L owners are distinct members and its zones are balanced
// (each active zone appears ⌊L/Z⌋ or ⌈L/Z⌉ times, so with Z ≥ L all zones
// differ). When every window is good, a partition's preference list of N
// is exactly the owners of it and its N-1 successors, so each member's
// replica load is N times its ownership: balancing ownership balances
// replicas too. This is Riak's target_n_val idea, extended to zones.
type plan struct {
	mask   int
	window int     // L
	owning int     // members with a non-zero quota
	owners []int32 // partition → member, or hole
	prev   []int32 // owners before the change, in the new numbering (departed members are holes); nil for a new ring
	quota  []int   // partitions each member should end with
	count  []int   // partitions each member holds now
	seed   []uint64

	// zoneOf maps a member to its zone; entry members+z is a phantom
	// member of zone z, used to price "some member of zone z" at a spot.
	zoneOf     []int32
	members    int
	zoneActive []bool // zone owns partitions
	zones      int    // active zones
	zoneLo     int    // fewest appearances of an active zone in a full window
	zoneHi     int    // most appearances of a zone in a window
	nodeWeight int    // a repeated member outweighs any zone imbalance

	mark  []uint32 // window start → epoch, to price each window once
	epoch uint32
}

// holdings counts the partitions each member holds in owners.
func holdings(owners []int32, members int) []int {
	held := make([]int, members)
	for _, o := range owners {
		if o != hole {
			held[o]++
		}
	}
	return held
}

// newPlan starts a placement toward quota from prev (nil: all holes).
func newPlan(cfg Config, members []Member, prev []int32, quota []int) *plan {
	q := cfg.Partitions
	pl := &plan{mask: q - 1, prev: prev, members: len(members), quota: quota}
	pl.owners = make([]int32, q)
	if prev != nil {
		copy(pl.owners, prev)
	} else {
		for i := range pl.owners {
			pl.owners[i] = hole
		}
	}
	pl.count = holdings(pl.owners, len(members))
	pl.seed = make([]uint64, len(members))
	for i, m := range members {
		pl.seed[i] = HashKey([]byte(m.ID))
		if pl.quota[i] > 0 {
			pl.owning++
		}
	}
	pl.window = windowFor(cfg.Replicas, pl.owning)
	pl.nodeWeight = 2*pl.window*pl.window + 1
	pl.initZones(members)
	pl.mark = make([]uint32, q)
	return pl
}

func (pl *plan) initZones(members []Member) {
	zones, zoneOf := zoneIndex(members)
	pl.zoneActive = make([]bool, len(zones))
	for i, z := range zoneOf {
		if pl.quota[i] > 0 && !pl.zoneActive[z] {
			pl.zoneActive[z] = true
			pl.zones++
		}
	}
	pl.zoneOf = make([]int32, len(members)+len(zones))
	copy(pl.zoneOf, zoneOf)
	for z := range zones {
		pl.zoneOf[len(members)+z] = int32(z)
	}
	if pl.zones > 0 {
		pl.zoneLo = pl.window / pl.zones
		pl.zoneHi = (pl.window + pl.zones - 1) / pl.zones
	}
}

// windowFor is L = min(Replicas, members that own partitions).
func windowFor(replicas, owners int) int { return max(1, min(replicas, owners)) }

// phantom returns the pseudo-member that stands for any member of zone z.
func (pl *plan) phantom(z int32) int32 { return int32(pl.members) + z }

// windowBad prices the window of L partitions starting at start: a heavy
// weight per repeated member plus the zone imbalance.
func (pl *plan) windowBad(start int) int {
	dups, zones := pl.windowFaults(start)
	return dups*pl.nodeWeight + zones
}

// windowFaults returns how many members repeat in the window at start and
// how unbalanced its zones are. Holes are free: a missing zone counts only
// when no hole is left to fill it.
func (pl *plan) windowFaults(start int) (dups, zoneBad int) {
	var nodes, zones [MaxReplicas]int32
	n, holes := 0, 0
	for k := range pl.window {
		o := pl.owners[(start+k)&pl.mask]
		if o == hole {
			holes++
			continue
		}
		nodes[n], zones[n] = o, pl.zoneOf[o]
		n++
	}
	for a := 1; a < n; a++ {
		for b := range a {
			if nodes[a] == nodes[b] {
				dups++
				break
			}
		}
	}
	if pl.zones > 1 {
		zoneBad = pl.zoneBad(zones[:n], holes)
	}
	return dups, zoneBad
}

// zoneBad counts how far a window's zones are from balanced: appearances
// above zoneHi, plus missing appearances below zoneLo that holes cannot
// make up.
func (pl *plan) zoneBad(zones []int32, holes int) int {
	insertionSort(zones)
	excess, missing, present := 0, 0, 0
	for a := 0; a < len(zones); {
		b := a + 1
		for b < len(zones) && zones[b] == zones[a] {
			b++
		}
		run := b - a
		excess += max(0, run-pl.zoneHi)
		if pl.zoneActive[zones[a]] {
			present++
			missing += max(0, pl.zoneLo-run)
		}
		a = b
	}
	missing += (pl.zones - present) * pl.zoneLo
	return excess + max(0, missing-holes)
}

func insertionSort(s []int32) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// posCost is the badness of every window that contains partition i.
func (pl *plan) posCost(i int) int {
	sum := 0
	for s := i - pl.window + 1; s <= i; s++ {
		sum += pl.windowBad(s & pl.mask)
	}
	return sum
}

// setDelta is how much the badness changes if partition i goes to m.
func (pl *plan) setDelta(i int, m int32) int {
	old := pl.owners[i]
	before := pl.posCost(i)
	pl.owners[i] = m
	after := pl.posCost(i)
	pl.owners[i] = old
	return after - before
}

// swapDelta is how much the badness changes if partitions i and j trade
// owners. Windows that contain both are priced once.
func (pl *plan) swapDelta(i, j int) int {
	before := pl.pairCost(i, j)
	pl.owners[i], pl.owners[j] = pl.owners[j], pl.owners[i]
	after := pl.pairCost(i, j)
	pl.owners[i], pl.owners[j] = pl.owners[j], pl.owners[i]
	return after - before
}

func (pl *plan) pairCost(i, j int) int {
	pl.epoch++
	if pl.epoch == 0 {
		clear(pl.mark)
		pl.epoch = 1
	}
	sum := 0
	for _, c := range [2]int{i, j} {
		for s := c - pl.window + 1; s <= c; s++ {
			k := s & pl.mask
			if pl.mark[k] != pl.epoch {
				pl.mark[k] = pl.epoch
				sum += pl.windowBad(k)
			}
		}
	}
	return sum
}

// moved reports whether partition i owned by o counts as a move.
func (pl *plan) moved(i int, o int32) int {
	if pl.prev != nil && pl.prev[i] != o {
		return 1
	}
	return 0
}

// moveDelta is how many more partitions differ from prev after swapping i
// and j.
func (pl *plan) moveDelta(i, j int) int {
	oi, oj := pl.owners[i], pl.owners[j]
	return pl.moved(i, oj) + pl.moved(j, oi) - pl.moved(i, oi) - pl.moved(j, oj)
}

// give hands partition i to member m, keeping the counts.
func (pl *plan) give(i int, m int32) {
	if o := pl.owners[i]; o != hole {
		pl.count[o]--
	}
	pl.owners[i] = m
	pl.count[m]++
}

// place assigns every partition: holes first (a new ring, or a departed
// member's partitions), then partitions taken from members above quota for
// members below it, then swaps that repair bad windows.
func place(cfg Config, members []Member, prev []int32) []int32 {
	var held []int
	if prev != nil {
		held = holdings(prev, len(members))
	}
	zones, zoneOf := zoneIndex(members)
	shares := targetShares(members, zoneOf, len(zones), cfg.Replicas)
	pl := newPlan(cfg, members, prev, quotas(cfg.Partitions, shares, zoneOf, len(zones), held))
	pl.fillHoles()
	pl.steal()
	if pl.owning <= cfg.Replicas {
		// Every preference list of Replicas holds every owning member, so
		// no window can unbalance replica load: repairing one would move
		// data for nothing (Q not a multiple of the member count makes some
		// windows unfixable anyway).
		return pl.owners
	}
	pl.repair()
	return pl.owners
}
