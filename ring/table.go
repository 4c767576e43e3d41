package ring

// buildPrefs fills the preference table: each partition's first depth
// entries of its order (see walk.go). Walking forward from every partition
// costs O(Q) each on an unlucky owner table, and a decoded ring may be
// anything, so the table is built in one backward sweep instead.
//
// Sweeping positions from 2Q-1 down to 0, each member's next occurrence
// only ever becomes the smallest, so keeping members in move-to-front lists
// (one per zone, ordered by next occurrence) and zones in a move-to-front
// list (ordered by their first member's next occurrence) keeps both sorted
// in O(1) per step. At position p < Q the order's level 0 is the zones'
// first members in zone-list order; level l is the zones' l-th members,
// sorted. The first lap only primes the lists. Cost: O(Q·depth·min(zones,
// depth)).
func (r *Ring) buildPrefs() {
	s := newSweep(r)
	q := len(r.owners)
	for pos := 2*q - 1; pos >= 0; pos-- {
		s.visit(pos, r.owners[pos%q])
		if pos < q {
			at := pos * r.depth
			s.emit(r.prefs[at:at:at+r.depth], r.depth)
		}
	}
}

type sweep struct {
	r          *Ring
	next       []int   // member → next occurrence (sweep position)
	mPrev      []int32 // member links within its zone's list; -1 ends
	mNext      []int32
	zHead      []int32 // zone → first member of its list, -1 when empty
	zPrev      []int32 // zone links within the zone list
	zNext      []int32
	zFirst     int32
	zones      int // zones in the zone list
	memberIn   []bool
	zoneIn     []bool
	cursor     []int32 // scratch: each zone's member at the current level
	candidates []int32 // scratch: one level's members
}

func newSweep(r *Ring) *sweep {
	s := &sweep{r: r, zFirst: -1, next: make([]int, len(r.members))}
	s.memberIn, s.zoneIn = make([]bool, len(r.members)), make([]bool, len(r.zones))
	s.mPrev, s.mNext = filled(len(r.members)), filled(len(r.members))
	s.zHead, s.zPrev, s.zNext = filled(len(r.zones)), filled(len(r.zones)), filled(len(r.zones))
	s.cursor = make([]int32, len(r.zones))
	return s
}

func filled(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = -1
	}
	return s
}

// visit moves member m, seen at pos, to the front of its zone's list and
// its zone to the front of the zone list.
func (s *sweep) visit(pos int, m uint16) {
	mm, z := int32(m), int32(s.r.zoneOf[m])
	s.next[m] = pos
	switch {
	case !s.memberIn[m]:
		s.memberIn[m] = true
		link(s.mPrev, s.mNext, mm, &s.zHead[z])
	case s.zHead[z] != mm:
		unlink(s.mPrev, s.mNext, mm, &s.zHead[z])
		link(s.mPrev, s.mNext, mm, &s.zHead[z])
	}
	switch {
	case !s.zoneIn[z]:
		s.zoneIn[z] = true
		s.zones++
		link(s.zPrev, s.zNext, z, &s.zFirst)
	case s.zFirst != z:
		unlink(s.zPrev, s.zNext, z, &s.zFirst)
		link(s.zPrev, s.zNext, z, &s.zFirst)
	}
}

func unlink(prev, next []int32, x int32, head *int32) {
	if prev[x] >= 0 {
		next[prev[x]] = next[x]
	} else {
		*head = next[x]
	}
	if next[x] >= 0 {
		prev[next[x]] = prev[x]
	}
	prev[x], next[x] = -1, -1
}

func link(prev, next []int32, x int32, head *int32) {
	next[x], prev[x] = *head, -1
	if *head >= 0 {
		prev[*head] = x
	}
	*head = x
}

// emit appends the first k entries of the order at the current position.
func (s *sweep) emit(dst []uint16, k int) []uint16 {
	if s.zones >= k {
		for z := s.zFirst; len(dst) < k; z = s.zNext[z] {
			dst = append(dst, uint16(s.zHead[z]))
		}
		return dst
	}
	n := 0
	for z := s.zFirst; z >= 0; z = s.zNext[z] {
		s.cursor[n] = s.zHead[z]
		n++
	}
	for len(dst) < k {
		s.candidates = s.candidates[:0]
		for i := range n {
			if c := s.cursor[i]; c >= 0 {
				s.candidates = append(s.candidates, c)
				s.cursor[i] = s.mNext[c]
			}
		}
		if len(s.candidates) == 0 {
			break
		}
		s.sortByNext(s.candidates)
		for _, m := range s.candidates {
			if len(dst) == k {
				break
			}
			dst = append(dst, uint16(m))
		}
	}
	for _, m := range s.r.idle {
		if len(dst) == k {
			break
		}
		dst = append(dst, m)
	}
	return dst
}

func (s *sweep) sortByNext(ms []int32) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && s.next[ms[j]] < s.next[ms[j-1]]; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}
