package loadgen

// fifo is a fixed-capacity ring of pending requests in wire order.
type fifo struct {
	buf     []pending
	head, n int
}

func newFIFO(capacity int) fifo { return fifo{buf: make([]pending, capacity)} }

func (f *fifo) push(e pending) {
	f.buf[(f.head+f.n)%len(f.buf)] = e
	f.n++
}

func (f *fifo) pop() pending {
	e := f.buf[f.head]
	f.head = (f.head + 1) % len(f.buf)
	f.n--
	return e
}

func (f *fifo) front() *pending { return &f.buf[f.head] }

// at is the i-th entry from the front.
func (f *fifo) at(i int) *pending { return &f.buf[(f.head+i)%len(f.buf)] }
