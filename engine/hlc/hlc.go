// Package hlc is a hybrid logical clock: timestamps that follow wall time
// closely, never go backwards on one node, and move past any timestamp the
// node has observed from others. Last-writer-wins picks among siblings by
// these timestamps, so a node with a slow clock still orders its writes
// after the ones it has read.
//
// A timestamp is 64 bits: milliseconds since the Unix epoch in the high 48
// bits, a logical counter in the low 16. The package reads no clock itself;
// the caller supplies the physical time source.
package hlc

import (
	"sync/atomic"
	"time"
)

const logicalBits = 16

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

// FromTime is the first timestamp of t's millisecond.
func FromTime(t time.Time) uint64 { return uint64(t.UnixMilli()) << logicalBits }

// Ceil is the last timestamp of t's millisecond: every write made at or
// before t (by a clock not ahead of t) has a timestamp ≤ Ceil(t).
func Ceil(t time.Time) uint64 { return FromTime(t) | (1<<logicalBits - 1) }

// Time returns the wall time a timestamp was taken at, to the millisecond.
func Time(ts uint64) time.Time { return time.UnixMilli(int64(ts >> logicalBits)) }
