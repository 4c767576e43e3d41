package ring

import "slices"

// Change is what one partition's replica set does between two rings.
type Change struct {
	Partition int
	// Added are members that hold a replica in the next ring but not in
	// this one: they must receive the partition's data (handoff).
	Added []string
	// Removed are members that hold a replica now but not in the next ring:
	// they may drop the partition once the added members have it.
	Removed []string
}

// Moved returns, in order, the partitions whose replicas (the first
// Replicas preference entries, in order; owner first) differ in next.
func (r *Ring) Moved(next *Ring) ([]int, error) {
	if len(next.owners) != len(r.owners) {
		return nil, ErrMismatch
	}
	var out []int
	for p := range r.owners {
		if !slices.Equal(r.replicas(p), next.replicas(p)) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Diff returns the replica changes from r to next, one per partition whose
// replica set changed (a pure reordering moves no data and is left out).
func (r *Ring) Diff(next *Ring) ([]Change, error) {
	if len(next.owners) != len(r.owners) {
		return nil, ErrMismatch
	}
	var out []Change
	for p := range r.owners {
		from, to := r.replicas(p), next.replicas(p)
		c := Change{Partition: p, Added: missing(to, from), Removed: missing(from, to)}
		if len(c.Added)+len(c.Removed) > 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// replicas returns partition p's first min(Replicas, Len) preference
// entries as IDs.
func (r *Ring) replicas(p int) []string {
	n := min(r.cfg.Replicas, len(r.members))
	out := make([]string, n)
	for i, m := range r.prefs[p*r.depth : p*r.depth+n] {
		out[i] = r.members[m].ID
	}
	return out
}

// missing returns the entries of a not in b.
func missing(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
