package dvv

import (
	"encoding/binary"
	"slices"
)

// Context is what a client carries between a read and a write: the
// clock of what it read, and dots beyond that clock that it also saw.
// A read's context is a clock alone. A write's new context is the
// writer's context plus the write's own dot, and that dot stays separate:
// folding it into the clock would also cover every write the coordinator
// minted for the key before it, siblings this writer never saw (a putv
// chain would then silently drop them).
type Context struct {
	Clock Clock
	Dots  []Dot // sorted, none covered by Clock
}

// Covers reports whether the write named by d is in the context.
func (c Context) Covers(d Dot) bool {
	return c.Clock.Covers(d) || slices.Contains(c.Dots, d)
}

// With returns c plus dot d, into dst (whose slices must not alias c's).
// A dot that follows on from the clock (counter clock[a]+1) is folded into
// it, and so is any dot that then follows on: the same set of writes, in
// constant space for a chain of writes coordinated by one node.
func (c Context) With(dst Context, d Dot) Context {
	dst.Clock = append(dst.Clock[:0], c.Clock...)
	dst.Dots = dst.Dots[:0]
	added := c.Clock.Covers(d)
	for _, x := range c.Dots {
		if !added && d.Less(x) {
			dst.Dots = append(dst.Dots, d)
			added = true
		}
		if x != d {
			dst.Dots = append(dst.Dots, x)
		} else {
			added = true
		}
	}
	if !added {
		dst.Dots = append(dst.Dots, d)
	}
	return dst.fold()
}

// fold moves into the clock every dot that follows on from it.
func (c Context) fold() Context {
	for {
		moved := false
		kept := c.Dots[:0]
		for _, d := range c.Dots {
			if d.Counter == c.Clock.Get(d.Actor)+1 {
				c.Clock = c.Clock.With(c.Clock[:0:0], d.Actor, d.Counter)
				moved = true
				continue
			}
			kept = append(kept, d)
		}
		c.Dots = kept
		if !moved {
			return c
		}
	}
}

// Context encoding: format 1 is a bare clock (AppendClock); format 2
// adds the dots:
//
//	byte    format (2)
//	uvarint number of clock entries, then per entry: 8 bytes actor, uvarint counter
//	uvarint number of dots, then per dot: 8 bytes actor, uvarint counter
const contextFormat = 2

// AppendContext appends the encoding of c: format 1 when it has no dots.
func AppendContext(dst []byte, c Context) []byte {
	if len(c.Dots) == 0 {
		return AppendClock(dst, c.Clock)
	}
	dst = AppendClock(dst, c.Clock)
	dst[len(dst)-clockLen(c.Clock)] = contextFormat
	dst = binary.AppendUvarint(dst, uint64(len(c.Dots)))
	for _, d := range c.Dots {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(d.Actor))
		dst = binary.AppendUvarint(dst, d.Counter)
	}
	return dst
}

func clockLen(c Clock) int {
	n := 1 + uvarintLen(uint64(len(c)))
	for _, e := range c {
		n += 8 + uvarintLen(e.Counter)
	}
	return n
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// DecodeContext decodes a context of either format into dst (reusing its
// slices). It rejects what DecodeClock rejects, and dots that are zero,
// unsorted, repeated, covered by the clock or following on from it (With
// folds those), so every decoded context is canonical.
func DecodeContext(dst Context, b []byte) (Context, error) {
	dst.Dots = dst.Dots[:0]
	if len(b) == 0 || b[0] == clockFormat {
		clock, n, err := DecodeClock(dst.Clock, b)
		dst.Clock = clock
		if err == nil && n != len(b) {
			err = ErrMalformed
		}
		return dst, err
	}
	if b[0] != contextFormat {
		return dst, ErrMalformed
	}
	// The clock part is format 1's body.
	tmp := append([]byte{clockFormat}, b[1:]...)
	clock, n, err := DecodeClock(dst.Clock, tmp)
	dst.Clock = clock
	if err != nil {
		return dst, err
	}
	rest := b[n:]
	count, k := binary.Uvarint(rest)
	if k <= 0 || count == 0 || count > maxEntries {
		return dst, ErrMalformed
	}
	rest = rest[k:]
	for range count {
		if len(rest) < 8 {
			return dst, ErrMalformed
		}
		d := Dot{Actor: Actor(binary.LittleEndian.Uint64(rest))}
		rest = rest[8:]
		ctr, k := binary.Uvarint(rest)
		if k <= 0 || ctr == 0 {
			return dst, ErrMalformed
		}
		rest = rest[k:]
		d.Counter = ctr
		if d.Counter <= clock.Get(d.Actor)+1 || (len(dst.Dots) > 0 && !dst.Dots[len(dst.Dots)-1].Less(d)) {
			return dst, ErrMalformed
		}
		dst.Dots = append(dst.Dots, d)
	}
	if len(rest) != 0 {
		return dst, ErrMalformed
	}
	return dst, nil
}
