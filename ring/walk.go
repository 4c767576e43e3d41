package ring

import "slices"

// A partition's preference list is one canonical order of all members,
// read from a clockwise walk that starts at the partition:
//
//   - a member's place in the walk is where it first appears;
//   - its level is how many members of its zone appeared before it;
//   - the list is sorted by (level, place).
//
// So the first min(n, zones) entries of any prefix of length n are in
// distinct zones, zones are used round-robin after that, and within a level
// members keep ring order. Members that own no partition come last, in ID
// order. Every prefix of the order is the preference list of that length,
// so PreferenceList(p, n) is always a prefix of ExtendedList(p): a sloppy
// quorum that skips a dead node takes the next entry.
//
// When every window of the ring is good (see plan), the first Replicas
// entries are exactly the owners of p and its successors.

// The first 2·Replicas entries of every partition's order are precomputed
// (table.go). walker computes longer prefixes on demand, walking forward
// from the partition and stopping as soon as the prefix is settled; it
// costs O(Q) at worst and allocates its scratch space.
type walker struct {
	r      *Ring
	stamp  uint32
	seen   []uint32 // member → stamp of the walk that saw it
	zstamp []uint32 // zone → stamp of the walk that counted it
	zcount []int32  // zone → members seen this walk
	levels []int32  // level → members found at that level
	reach  []int32  // l → zones with at least l members seen
	closed []int32  // l → zones whose l owning members have all been seen
	found  []found
	start  []int32 // counting-sort offsets by level
}

type found struct {
	member uint16
	level  int32
}

func newWalker(r *Ring) *walker {
	s, z := len(r.members), len(r.zones)
	return &walker{
		r:      r,
		seen:   make([]uint32, s),
		zstamp: make([]uint32, z),
		zcount: make([]int32, z),
		levels: make([]int32, s+2),
		reach:  make([]int32, s+2),
		closed: make([]int32, s+2),
	}
}

// order appends the first k members of partition p's order to dst.
func (w *walker) order(p, k int, dst []uint16) []uint16 {
	r := w.r
	w.next()
	w.found = w.found[:0]
	mask := len(r.owners) - 1
	for step := range len(r.owners) {
		m := r.owners[(p+step)&mask]
		if w.seen[m] == w.stamp {
			continue
		}
		w.seen[m] = w.stamp
		z := r.zoneOf[m]
		level := int32(0)
		if w.zstamp[z] == w.stamp {
			level = w.zcount[z]
		}
		w.zstamp[z], w.zcount[z] = w.stamp, level+1
		w.levels[level]++
		w.reach[level+1]++
		if level+1 == r.zoneSize[z] {
			w.closed[level+1]++
		}
		w.found = append(w.found, found{m, level})
		if len(w.found) >= k && w.settled(k) {
			break
		}
	}
	dst = w.emit(k, dst)
	for _, m := range r.idle {
		if len(dst) >= k {
			break
		}
		dst = append(dst, m)
	}
	return dst
}

// next starts a walk, clearing the per-level tallies of the last one.
func (w *walker) next() {
	for _, f := range w.found {
		w.levels[f.level] = 0
		w.reach[f.level+1] = 0
		w.closed[f.level+1] = 0
	}
	w.stamp++
	if w.stamp == 0 {
		clear(w.seen)
		clear(w.zstamp)
		w.stamp = 1
	}
}

// settled reports whether the first k entries of the order are known: no
// member not yet seen can sort before the k-th. An unseen member of zone z
// would get level count(z) and a later place, so it sorts after the k-th
// entry (level l) exactly when count(z) >= l. Every zone must pass that
// test or have no unseen owning member left: zones with l or more members
// seen, plus zones completely seen with fewer, must be all the zones.
func (w *walker) settled(k int) bool {
	l, total := 0, int32(0)
	for ; ; l++ {
		total += w.levels[l]
		if int(total) >= k {
			break
		}
	}
	if l == 0 {
		return true
	}
	done := w.reach[l] + w.r.emptyZones
	for size := 1; size < l; size++ {
		done += w.closed[size]
	}
	return int(done) == len(w.r.zones)
}

// emit appends the first k found members sorted by (level, place).
func (w *walker) emit(k int, dst []uint16) []uint16 {
	top := int32(0)
	for _, f := range w.found {
		top = max(top, f.level)
	}
	w.start = slices.Grow(w.start[:0], int(top)+2)[:top+2]
	clear(w.start)
	for _, f := range w.found {
		w.start[f.level+1]++
	}
	for l := 1; l < len(w.start); l++ {
		w.start[l] += w.start[l-1]
	}
	base := len(dst)
	n := min(k, len(w.found))
	dst = slices.Grow(dst, n)[:base+n]
	for _, f := range w.found {
		at := w.start[f.level]
		w.start[f.level]++
		if int(at) < n {
			dst[base+int(at)] = f.member
		}
	}
	return dst
}
