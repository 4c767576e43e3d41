package report

import (
	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: nanoseconds from 1 ns to 60 s at 3 significant
// digits (about 220 KB each). Every histogram in a run uses it, so merges
// never drop values.
const (
	LowestNanos  = 1
	HighestNanos = 60_000_000_000
	SigFigs      = 3
)

// NewHistogram returns an empty histogram of the standard geometry.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestNanos, HighestNanos, SigFigs)
}

// Clamp brings a latency into the recordable range: RecordValue rejects
// out-of-range values instead of saturating, and a negative value (a clock
// step) or a stall longer than a minute must still be counted.
func Clamp(ns int64) int64 {
	return min(max(ns, LowestNanos), HighestNanos)
}

// Histograms is one histogram per kind, allocated on first use; nil entries had no
// samples. Histograms are not safe for concurrent use.
type Histograms [NumKinds]*hdrhistogram.Histogram

// Record adds one latency, clamped, to kind k.
func (s *Histograms) Record(k Kind, ns int64) {
	h := s[k]
	if h == nil {
		h = NewHistogram()
		s[k] = h
	}
	_ = h.RecordValue(Clamp(ns)) // cannot fail once clamped
}

// Merge adds every sample of o into s.
func (s *Histograms) Merge(o *Histograms) {
	for k, h := range o {
		if h == nil {
			continue
		}
		if s[k] == nil {
			s[k] = NewHistogram()
		}
		s[k].Merge(h)
	}
}

// Count is the number of samples of kind k.
func (s *Histograms) Count(k Kind) int64 {
	if s[k] == nil {
		return 0
	}
	return s[k].TotalCount()
}

// Combined merges the given kinds into a new histogram; nil if none has
// samples.
func (s *Histograms) Combined(kinds []Kind) *hdrhistogram.Histogram {
	var out *hdrhistogram.Histogram
	for _, k := range kinds {
		if s[k] == nil {
			continue
		}
		if out == nil {
			out = NewHistogram()
		}
		out.Merge(s[k])
	}
	return out
}

// Counters are the per-kind outcome counts of a run.
type Counters struct {
	OK        [NumKinds]int64 // replies that were not errors (hits, misses, stored ...)
	Misses    [NumKinds]int64 // get/getv miss, delete NOT_FOUND: counted, not errors
	NotStored [NumKinds]int64 // NOT_STORED or EXISTS: counted, not errors
	Errors    [NumKinds][NumErrKinds]int64
	// Siblings[n] counts getv replies carrying n siblings; the last bucket
	// counts that many or more.
	Siblings [MaxSiblingBucket + 1]int64
	// SiblingsTotal is the sum of sibling counts over all getv replies.
	SiblingsTotal int64
	// Unsent counts open-loop operations scheduled inside the run that
	// could not be sent before it ended (the target fell too far behind).
	Unsent int64
	// Reconnects counts connections re-established after a failure.
	Reconnects int64
}

// MaxSiblingBucket is the last, open-ended bucket of Counters.Siblings.
const MaxSiblingBucket = 8

// Add accumulates o into c.
func (c *Counters) Add(o *Counters) {
	for k := range NumKinds {
		c.OK[k] += o.OK[k]
		c.Misses[k] += o.Misses[k]
		c.NotStored[k] += o.NotStored[k]
		for e := range NumErrKinds {
			c.Errors[k][e] += o.Errors[k][e]
		}
	}
	for i := range c.Siblings {
		c.Siblings[i] += o.Siblings[i]
	}
	c.SiblingsTotal += o.SiblingsTotal
	c.Unsent += o.Unsent
	c.Reconnects += o.Reconnects
}

// Failed is the number of failed operations of the given kinds.
func (c *Counters) Failed(kinds []Kind) int64 {
	var n int64
	for _, k := range kinds {
		for _, e := range c.Errors[k] {
			n += e
		}
	}
	return n
}

// AddSiblings counts one getv reply with n siblings.
func (c *Counters) AddSiblings(n int) {
	c.Siblings[min(n, MaxSiblingBucket)]++
	c.SiblingsTotal += int64(n)
}
