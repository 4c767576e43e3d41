package ring

import (
	"cmp"
	"math"
	"slices"
)

// quotas turns target shares (see targetShares) into whole partitions.
// Each member gets the floor or the ceiling of its exact share Q·s, so it
// is within one partition of its target.
//
// Zones are rounded first and members within each zone second: rounding
// members alone could give every member of a large zone its ceiling and
// push the zone past the share that keeps its windows balanced.
//
// held is what each member holds now (nil for a new ring). Ceilings go
// first to those already holding at least their ceiling, so a change takes
// partitions only from members (and zones) that must shrink: that is what
// keeps movement at its minimum.
func quotas(q int, shares []float64, zoneOf []int32, zones int, held []int) []int {
	exact := make([]float64, len(shares))
	zoneExact := make([]float64, zones)
	var zoneHeld []int
	if held != nil {
		zoneHeld = make([]int, zones)
	}
	for i, s := range shares {
		exact[i] = float64(float64(q) * s)
		zoneExact[zoneOf[i]] += exact[i]
		if held != nil {
			zoneHeld[zoneOf[i]] += held[i]
		}
	}
	zoneQuota := apportion(q, zoneExact, zoneHeld)
	quota := make([]int, len(shares))
	for z := range zones {
		var idx []int
		for i := range shares {
			if int(zoneOf[i]) == z {
				idx = append(idx, i)
			}
		}
		sub := make([]float64, len(idx))
		var subHeld []int
		if held != nil {
			subHeld = make([]int, len(idx))
		}
		for k, i := range idx {
			sub[k] = exact[i]
			if held != nil {
				subHeld[k] = held[i]
			}
		}
		for k, n := range apportion(zoneQuota[z], sub, subHeld) {
			quota[idx[k]] = n
		}
	}
	return quota
}

// apportion splits total whole units over items with exact (fractional)
// claims summing to about total: each gets the floor of its claim, and the
// units left go one each by largest remainder, first to items whose held
// count already reaches their ceiling.
func apportion(total int, exact []float64, held []int) []int {
	out := make([]int, len(exact))
	frac := make([]float64, len(exact))
	given := 0
	for i, e := range exact {
		floor := math.Floor(e)
		out[i], frac[i] = int(floor), e-floor
		given += out[i]
	}
	order := make([]int, len(exact))
	for i := range order {
		order[i] = i
	}
	keeps := func(i int) bool { return held != nil && held[i] > out[i] }
	slices.SortFunc(order, func(a, b int) int {
		if c := compareTrue(frac[a] > 0, frac[b] > 0); c != 0 {
			return c
		}
		if c := compareTrue(keeps(a), keeps(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(frac[b], frac[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	// Float error can leave the floors a unit off either way; the shortfall
	// is otherwise below len(exact).
	for k := 0; given < total && len(order) > 0; k++ {
		out[order[k%len(order)]]++
		given++
	}
	for k := len(order) - 1; given > total && k >= 0; k-- {
		if out[order[k]] > 0 {
			out[order[k]]--
			given--
		}
	}
	return out
}

// compareTrue orders true before false.
func compareTrue(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}
