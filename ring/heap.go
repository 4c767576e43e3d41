package ring

// dueHeap is a min-heap of members by due time that tracks each member's
// index (in filler.pos) so its key can be fixed in place.
type dueHeap struct {
	f     *filler
	items []int32
}

func (h *dueHeap) push(m int32) {
	h.items = append(h.items, m)
	h.f.pos[m] = int32(len(h.items) - 1)
	h.up(len(h.items) - 1)
}

func (h *dueHeap) pop() int32 {
	m := h.items[0]
	h.remove(0)
	return m
}

func (h *dueHeap) remove(i int32) {
	last := len(h.items) - 1
	m := h.items[i]
	h.swap(int(i), last)
	h.items = h.items[:last]
	h.f.pos[m] = -1
	if int(i) < last {
		h.fix(i)
	}
}

func (h *dueHeap) fix(i int32) {
	if !h.down(int(i)) {
		h.up(int(i))
	}
}

func (h *dueHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.f.pos[h.items[i]] = int32(i)
	h.f.pos[h.items[j]] = int32(j)
}

func (h *dueHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.f.before(h.items[i], h.items[parent]) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h *dueHeap) down(i int) bool {
	start := i
	for {
		child := 2*i + 1
		if child >= len(h.items) {
			break
		}
		if r := child + 1; r < len(h.items) && h.f.before(h.items[r], h.items[child]) {
			child = r
		}
		if !h.f.before(h.items[child], h.items[i]) {
			break
		}
		h.swap(i, child)
		i = child
	}
	return i > start
}
