package ring

// Repair bounds. The search is deterministic (a count, not a clock), so
// every node that computes the same change gets the same ring.
const (
	repairPasses = 3
	repairScan   = 256     // swap partners tried per bad partition
	repairBudget = 1 << 18 // swap evaluations per placement
)

// repair swaps owners of pairs of partitions to remove bad windows (a
// member twice within L partitions, or unbalanced zones): the tail of a new
// ring, or holes that only a conflicting member could fill. Swaps keep
// every member's count, so quotas hold. Among swaps that help, it prefers
// those that move fewer partitions away from the previous ring. Windows
// that cannot be fixed (a member or zone too large for L) stay bad and are
// reported by Stats.
func (pl *plan) repair() {
	budget := repairBudget
	stuck := map[int]bool{} // partitions no swap could improve
	for range repairPasses {
		improved := false
		for s := range pl.owners {
			if budget <= 0 {
				return
			}
			if pl.windowBad(s) == 0 {
				continue
			}
			for k := range pl.window {
				i := (s + k) & pl.mask
				if stuck[i] || pl.posCost(i) == 0 {
					continue
				}
				if pl.fix(i, &budget) {
					improved = true
				} else {
					stuck[i] = true
				}
			}
		}
		if !improved {
			return
		}
	}
}

type swapGain struct {
	j          int
	bad, moves int
}

func (g swapGain) beats(o swapGain) bool {
	if g.bad != o.bad {
		return g.bad < o.bad
	}
	return g.moves < o.moves
}

// fix looks for the best partner j to swap with partition i and applies
// the swap if it lowers the badness, or keeps it and moves less.
func (pl *plan) fix(i int, budget *int) bool {
	cost := pl.posCost(i)
	best := swapGain{j: -1}
	scan := min(len(pl.owners)-1, repairScan)
	for t := 1; t <= scan && *budget > 0; t++ {
		j := outward(i, t) & pl.mask
		if pl.owners[j] == pl.owners[i] {
			continue
		}
		*budget--
		g := swapGain{j: j, bad: pl.swapDelta(i, j), moves: pl.moveDelta(i, j)}
		if g.beats(best) {
			best = g
		}
		if pl.prev == nil && best.bad <= -cost {
			break
		}
	}
	if best.j < 0 || !(best.bad < 0 || best.bad == 0 && best.moves < 0) {
		return false
	}
	pl.owners[i], pl.owners[best.j] = pl.owners[best.j], pl.owners[i]
	return true
}
