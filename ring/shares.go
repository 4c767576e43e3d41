package ring

// targetShares returns the fraction of the partitions each member should
// own. It starts from weight and bends only where weight cannot be met by
// replica load, which is what costs disk and work:
//
//   - A member is in at most one of the n replicas of each partition, so
//     its share of ownership is capped at 1/n (with good windows, replica
//     load is n times ownership).
//   - Preference lists spread zones first, so each list holds every zone
//     between ⌊n/Z⌋ and ⌈n/Z⌉ times (once at most when Z ≥ n): a zone's
//     share is held inside those bounds however much weight it has.
//
// Shares are water-filled within those bounds, first over zones by zone
// weight, then over each zone's members by weight. With zones equal in
// weight and no member above 1/n this is exactly weight/Σweight; with a
// zone one node larger than the others, the newcomer's share comes from
// its own zone, so a join moves replicas only inside that zone.
//
// With n or fewer members every list holds every member, so replica load
// cannot follow weight and ownership simply does.
//
// Floating point here is ordered and bounded (fixed iteration counts, no
// fused operations) so every node derives the same shares.
func targetShares(members []Member, zoneOf []int32, zones, replicas int) []float64 {
	shares := make([]float64, len(members))
	n := min(replicas, len(members))
	if n == len(members) {
		total := sumWeights(members)
		for i, m := range members {
			shares[i] = m.Weight / total
		}
		return shares
	}
	zoneWeight := make([]float64, zones)
	zoneSize := make([]int, zones)
	for i, m := range members {
		zoneWeight[zoneOf[i]] += m.Weight
		zoneSize[zoneOf[i]]++
	}
	lo, hi := make([]float64, zones), make([]float64, zones)
	for z := range zones {
		hi[z] = min(float64((n+zones-1)/zones), float64(zoneSize[z])) / float64(n)
		lo[z] = min(float64(n/zones)/float64(n), hi[z])
	}
	zoneShare := waterfill(zoneWeight, lo, hi)
	for z := range zones {
		var idx []int
		for i := range members {
			if int(zoneOf[i]) == z {
				idx = append(idx, i)
			}
		}
		w := make([]float64, len(idx))
		nodeLo, nodeHi := make([]float64, len(idx)), make([]float64, len(idx))
		for k, i := range idx {
			// A member's share of its zone, capped so its share of the
			// ring stays at most 1/n.
			w[k], nodeHi[k] = members[i].Weight, 1/(float64(n)*zoneShare[z])
		}
		for k, s := range waterfill(w, nodeLo, nodeHi) {
			shares[idx[k]] = s * zoneShare[z]
		}
	}
	return shares
}

func sumWeights(members []Member) float64 {
	total := 0.0
	for _, m := range members {
		total += m.Weight
	}
	return total
}

// waterfill splits a whole (1) over items in proportion to weight, each
// held in [lo, hi]: share = clamp(λ·w/Σw), λ chosen by bisection so the
// shares sum to 1. When no bound binds that is exactly w/Σw. If the bounds
// cannot sum to 1 the shares are scaled to.
func waterfill(weight, lo, hi []float64) []float64 {
	total := 0.0
	for _, w := range weight {
		total += w
	}
	at := func(lambda float64) ([]float64, float64) {
		s, sum := make([]float64, len(weight)), 0.0
		for i, w := range weight {
			s[i] = min(hi[i], max(lo[i], float64(lambda*w)/total))
			sum += s[i]
		}
		return s, sum
	}
	if s, _ := at(1); inBounds(weight, total, lo, hi) {
		return s
	}
	a, b := 0.0, 1.0
	for _, sum := at(b); sum < 1 && b < 1e12; _, sum = at(b) {
		b *= 2
	}
	for range 100 {
		mid := float64(a+b) / 2
		if _, sum := at(mid); sum < 1 {
			a = mid
		} else {
			b = mid
		}
	}
	s, sum := at(b)
	for i := range s {
		s[i] /= sum
	}
	return s
}

func inBounds(weight []float64, total float64, lo, hi []float64) bool {
	for i, w := range weight {
		if p := w / total; p < lo[i] || p > hi[i] {
			return false
		}
	}
	return true
}
