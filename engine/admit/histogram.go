package admit

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits sub-buckets per power of two: values within 1/8 (12.5 %) of
// each other may share a bucket.
const (
	subBits = 3
	buckets = (64 - subBits + 1) << subBits
)

// Histogram counts latencies in log-linear buckets. Record is safe for
// concurrent use and does not allocate: one atomic add.
type Histogram struct {
	counts [buckets]atomic.Uint64
}

// Record counts one latency.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))].Add(1)
}

// Snapshot is the counts at one moment; the difference of two is a window.
type Snapshot [buckets]uint64

// Snapshot copies the counts (not atomically as a whole: a record racing
// with it lands in this window or the next).
func (h *Histogram) Snapshot(dst *Snapshot) {
	for i := range h.counts {
		dst[i] = h.counts[i].Load()
	}
}

// Window is what a period's requests looked like.
type Window struct {
	Count uint64        // requests finished in the window
	P99   time.Duration // upper bound of the bucket holding the 99th percentile
}

// Between summarizes the requests counted after prev and up to cur.
func Between(prev, cur *Snapshot) Window {
	var n uint64
	for i := range cur {
		n += cur[i] - prev[i]
	}
	if n == 0 {
		return Window{}
	}
	rank := uint64(math.Ceil(0.99 * float64(n)))
	var seen uint64
	for i := range cur {
		seen += cur[i] - prev[i]
		if seen >= rank {
			return Window{Count: n, P99: time.Duration(upperBound(i))}
		}
	}
	return Window{Count: n, P99: time.Duration(upperBound(buckets - 1))}
}

func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	n := bits.Len64(v)
	shift := n - 1 - subBits
	return (n-subBits)<<subBits | int(v>>shift)&(1<<subBits-1)
}

// lowerBound is the smallest value of bucket i.
func lowerBound(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	octave, sub := i>>subBits, uint64(i&(1<<subBits-1))
	return (1<<subBits | sub) << (octave - 1)
}

// upperBound is the largest value of bucket i.
func upperBound(i int) uint64 {
	if i == buckets-1 {
		return math.MaxUint64
	}
	return lowerBound(i+1) - 1
}
