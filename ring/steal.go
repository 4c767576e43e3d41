package ring

import (
	"cmp"
	"slices"
)

// stealScan bounds how far from its ideal spot a member looks for a
// partition to take once it has seen one that would do, even if a little
// worse.
const stealScan = 1024

// steal gives members below quota partitions of members above it. This is
// the join path (and a weight change): the newcomer takes partitions
// evenly around the ring, one near each of need evenly spaced spots, each
// from a member that must shrink and where it makes no window worse. Only
// the partitions it takes move.
func (pl *plan) steal() {
	var owed []int32
	for m := range pl.members {
		if pl.count[m] < pl.quota[m] {
			owed = append(owed, int32(m))
		}
	}
	slices.SortFunc(owed, func(a, b int32) int {
		if c := cmp.Compare(pl.quota[b]-pl.count[b], pl.quota[a]-pl.count[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	q := len(pl.owners)
	for _, m := range owed {
		need := pl.quota[m] - pl.count[m]
		offset := int(pl.seed[m] % uint64(q))
		for k := range need {
			spot := (offset + k*q/need) & pl.mask
			pl.give(pl.findSteal(m, spot), m)
		}
	}
}

// findSteal returns the partition nearest spot that m should take: owned by
// a member above quota, and making no window worse if there is one such
// within reach; otherwise the least bad seen.
func (pl *plan) findSteal(m int32, spot int) int {
	best, bestCost := -1, 0
	q := len(pl.owners)
	for t := range q {
		i := outward(spot, t) & pl.mask
		o := pl.owners[i]
		if o == hole || o == m || pl.count[o] <= pl.quota[o] {
			continue
		}
		c := pl.setDelta(i, m)
		if c <= 0 {
			return i
		}
		if best < 0 || c < bestCost {
			best, bestCost = i, c
		}
		if t >= stealScan {
			break
		}
	}
	return best
}

// outward returns the t-th position of a search that alternates right and
// left of spot: spot, spot+1, spot-1, spot+2, ...
func outward(spot, t int) int {
	if t%2 == 1 {
		return spot + (t+1)/2
	}
	return spot - t/2
}
