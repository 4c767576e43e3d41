// Package hlc is a hybrid logical clock: timestamps that follow wall time
// closely, never go backwards on one node, and move past any timestamp the
// node has observed from others. Last-writer-wins picks among siblings by
// these timestamps, so a node with a slow clock still orders its writes
// after the ones it has read.
//
// A timestamp is 64 bits: microseconds since the Unix epoch in the high 52
// bits (until the year 2112), a logical counter in the low 12. The package
// reads no clock itself; the caller supplies the physical time source.
//
// Microseconds, not milliseconds: a client that writes a key through one
// node and, once acknowledged, overwrites it through another expects the
// second write to win. Nodes that share a clock (or keep it well
// synchronized) order the two by physical time only if the two
// timestamps differ by less than a request's round trip; with
// milliseconds, two such writes in the same millisecond were ordered by
// each node's logical counter, which knows nothing of the other's.
package hlc

import (
	"sync/atomic"
	"time"
)

const logicalBits = 12

// Clock issues timestamps. The zero value is not usable; call New.
type Clock struct {
	last atomic.Uint64
	wall func() time.Time
}

// New returns a clock reading physical time from wall (time.Now when nil).
func New(wall func() time.Time) *Clock {
	if wall == nil {
		wall = time.Now
	}
	return &Clock{wall: wall}
}

// Now returns a timestamp greater than every one this clock has issued or
// observed.
func (c *Clock) Now() uint64 {
	phys := FromTime(c.wall())
	for {
		last := c.last.Load()
		next := max(phys, last+1)
		if c.last.CompareAndSwap(last, next) {
			return next
		}
	}
}

// Observe moves the clock past ts, a timestamp seen from another node.
func (c *Clock) Observe(ts uint64) {
	for {
		last := c.last.Load()
		if ts <= last || c.last.CompareAndSwap(last, ts) {
			return
		}
	}
}

// FromTime is the first timestamp of t's microsecond.
func FromTime(t time.Time) uint64 { return uint64(t.UnixMicro()) << logicalBits }

// Ceil is the last timestamp of t's microsecond: every write made at or
// before t (by a clock not ahead of t) has a timestamp ≤ Ceil(t).
func Ceil(t time.Time) uint64 { return FromTime(t) | (1<<logicalBits - 1) }

// Time returns the wall time a timestamp was taken at, to the microsecond.
func Time(ts uint64) time.Time { return time.UnixMicro(int64(ts >> logicalBits)) }

// FromMillis16 converts a timestamp of this package's first layout
// (milliseconds << 16 | counter), still found in records and flush points
// written before microseconds, to the current one, the counter clamped to
// its 12 bits: data written before reads as older than data written
// after, as it is.
func FromMillis16(ts uint64) uint64 {
	ms, logical := ts>>16, ts&(1<<16-1)
	return ms*1000<<logicalBits | min(logical, 1<<logicalBits-1)
}
