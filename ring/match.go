package ring

// rematchDepth bounds the chain of hand-overs rematch tries.
const rematchDepth = 3

// rematch fills hole h without making any window worse, when no member
// still owed a hole fits it: some member m that fits h gives up a hole h2
// it took in this fill to another member that fits h2 (and so on, up to
// rematchDepth hand-overs), then takes h. This is an augmenting path of
// the matching between holes and owed members; each hand-over moves no
// extra partition, since all of them were holes. It reports whether it
// succeeded.
func (f *filler) rematch(h int) bool {
	return f.augment(h, rematchDepth, map[int]bool{h: true}, map[int32]bool{})
}

// augment finds a member for h; seen holds holes already on the path and
// busy the members handing one over, who must not take it straight back.
func (f *filler) augment(h, depth int, seen map[int]bool, busy map[int32]bool) bool {
	for m := range int32(f.pl.members) {
		if f.need[m] == 0 || busy[m] || f.pl.setDelta(h, m) > 0 {
			continue
		}
		if f.got[m] < f.need[m] {
			f.assign(h, m)
			return true
		}
		if depth == 0 {
			continue
		}
		for _, h2 := range append([]int(nil), f.took[m]...) {
			if seen[h2] {
				continue
			}
			seen[h2] = true
			f.unassign(h2, m)
			busy[m] = true
			ok := f.augment(h2, depth-1, seen, busy)
			delete(busy, m)
			if ok {
				f.assign(h, m)
				return true
			}
			f.assign(h2, m)
		}
	}
	return false
}
