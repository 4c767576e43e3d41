package ring

// Stats measures how well a ring is placed. cmd/ringsim prints it for
// many cluster shapes.
type Stats struct {
	// Members, Partitions, Replicas and Zones describe the ring.
	Members, Partitions, Replicas, Zones int
	// PrimaryImbalance is the largest owned/ideal over members, ideal being
	// Q·w/Σw. 1 is perfect; whole partitions make ceil(ideal)/ideal the
	// best possible.
	PrimaryImbalance float64
	// ReplicaImbalance is the same for replica load: how many partitions
	// have the member among their first n = min(Replicas, Members)
	// preference entries, against the ideal n·Q·w/Σw.
	ReplicaImbalance float64
	// BestImbalance is the least either imbalance can be for this
	// membership: partitions are whole, a member is at most one of the n
	// replicas of a partition, and zones are spread first (targetShares in
	// shares.go). It is 1 only when Q·w/Σw is a whole number for everyone;
	// it is large when Q/members is small (1000 members over Q=1024 own
	// one or two partitions each: 1.95).
	BestImbalance float64
	// NodeViolations counts windows of L = min(Replicas, owning members)
	// consecutive partitions in which a member appears twice (Riak's
	// target_n_val violations); ZoneViolations counts windows whose zones
	// are unbalanced. Each such window makes some preference list reach
	// past its N consecutive owners and skews replica load.
	NodeViolations, ZoneViolations int
	// ZoneSpread is the fraction of partitions whose first n preference
	// entries span min(n, Zones) zones. The preference order guarantees 1
	// whenever zones have owning members; it is measured, not assumed.
	ZoneSpread float64
	// FailoverMax is the largest share of one member's replica load that a
	// single other member takes over when it fails (the next entry of each
	// affected preference list). Lower is better; 1/(Members-1) is ideal.
	// Zero when there is no spare member.
	FailoverMax float64
}

// Stats measures the ring. It walks every partition; it is meant for
// tools and tests, not the request path.
func (r *Ring) Stats() Stats {
	s := Stats{Members: len(r.members), Partitions: len(r.owners), Replicas: r.cfg.Replicas, Zones: len(r.zones)}
	n := min(r.cfg.Replicas, len(r.members))
	owned, load := r.ownedCounts(), r.replicaLoad(n)
	total := 0.0
	for _, m := range r.members {
		total += m.Weight
	}
	for i, m := range r.members {
		ideal := float64(len(r.owners)) * m.Weight / total
		s.PrimaryImbalance = max(s.PrimaryImbalance, float64(owned[i])/ideal)
		s.ReplicaImbalance = max(s.ReplicaImbalance, float64(load[i])/(float64(n)*ideal))
	}
	s.BestImbalance = r.bestImbalance(total)
	s.NodeViolations, s.ZoneViolations = r.violations()
	s.ZoneSpread = r.zoneSpread(n)
	s.FailoverMax = r.failoverMax(n, load)
	return s
}

// bestImbalance is the imbalance of a perfect placement of the quotas New
// would aim for.
func (r *Ring) bestImbalance(total float64) float64 {
	_, zoneOf := zoneIndex(r.members)
	shares := targetShares(r.members, zoneOf, len(r.zones), r.cfg.Replicas)
	worst := 0.0
	for i, quota := range quotas(len(r.owners), shares, zoneOf, len(r.zones), nil) {
		ideal := float64(len(r.owners)) * r.members[i].Weight / total
		worst = max(worst, float64(quota)/ideal)
	}
	return worst
}

// replicaLoad counts, per member, the partitions it is a replica of.
func (r *Ring) replicaLoad(n int) []int {
	load := make([]int, len(r.members))
	for p := range r.owners {
		for _, m := range r.prefs[p*r.depth : p*r.depth+n] {
			load[m]++
		}
	}
	return load
}

func (r *Ring) violations() (nodes, zones int) {
	prev := make([]int32, len(r.owners))
	for p, o := range r.owners {
		prev[p] = int32(o)
	}
	pl := newPlan(r.cfg, r.members, prev, r.ownedCounts())
	for s := range r.owners {
		d, z := pl.windowFaults(s)
		if d > 0 {
			nodes++
		}
		if z > 0 {
			zones++
		}
	}
	return nodes, zones
}

func (r *Ring) zoneSpread(n int) float64 {
	want := min(n, r.zonesOwning())
	spread := 0
	var seen [MaxReplicas]uint16
	for p := range r.owners {
		k := 0
		for _, m := range r.prefs[p*r.depth : p*r.depth+n] {
			z := r.zoneOf[m]
			if !containsU16(seen[:k], z) {
				seen[k] = z
				k++
			}
		}
		if k >= want {
			spread++
		}
	}
	return float64(spread) / float64(len(r.owners))
}

func (r *Ring) zonesOwning() int {
	return len(r.zones) - int(r.emptyZones)
}

// failoverMax: for each member, who takes each of its replicas when it is
// down (entry n of the preference list, the first fallback), and the
// largest share any one taker gets.
func (r *Ring) failoverMax(n int, load []int) float64 {
	if r.depth <= n {
		return 0
	}
	takes := make(map[[2]uint16]int)
	for p := range r.owners {
		row := r.prefs[p*r.depth : p*r.depth+n+1]
		for _, m := range row[:n] {
			takes[[2]uint16{m, row[n]}]++
		}
	}
	worst := 0.0
	for k, c := range takes {
		worst = max(worst, float64(c)/float64(load[k[0]]))
	}
	return worst
}

func containsU16(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
