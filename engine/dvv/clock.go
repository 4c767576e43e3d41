package dvv

import (
	"encoding/binary"
	"errors"
	"slices"
)

// Actor identifies one incarnation of a node: a node that loses its data
// comes back as a new actor so that it can never reuse a dot it handed out
// before.
type Actor uint64

// Dot names one write: the coordinating actor and its per-key counter.
type Dot struct {
	Actor   Actor
	Counter uint64
}

// Less orders dots by actor, then counter; siblings are kept in this order so
// that every replica lists them alike.
func (d Dot) Less(o Dot) bool {
	if d.Actor != o.Actor {
		return d.Actor < o.Actor
	}
	return d.Counter < o.Counter
}

// Entry is one actor's counter in a Clock.
type Entry struct {
	Actor   Actor
	Counter uint64
}

// Clock is a version vector: entries sorted by actor, one per actor, every
// counter > 0. The zero value is the empty clock. Clocks are values: the
// functions here never modify their inputs unless they take a dst.
type Clock []Entry

// Get returns a's counter, 0 when absent.
func (c Clock) Get(a Actor) uint64 {
	i, ok := c.find(a)
	if !ok {
		return 0
	}
	return c[i].Counter
}

func (c Clock) find(a Actor) (int, bool) {
	return slices.BinarySearchFunc(c, a, func(e Entry, a Actor) int {
		switch {
		case e.Actor < a:
			return -1
		case e.Actor > a:
			return 1
		}
		return 0
	})
}

// Covers reports whether the write named by d happened before (or is) the
// state c describes.
func (c Clock) Covers(d Dot) bool { return d.Counter <= c.Get(d.Actor) }

// Descends reports whether c has seen everything o has (c ≥ o pointwise).
func (c Clock) Descends(o Clock) bool {
	for _, e := range o {
		if c.Get(e.Actor) < e.Counter {
			return false
		}
	}
	return true
}

// Equal reports whether c and o are the same clock.
func (c Clock) Equal(o Clock) bool { return slices.Equal(c, o) }

// With returns dst set to c with a's counter raised to n (never lowered).
// dst may be c[:0] to update in place only when it does not alias an input
// still in use elsewhere.
func (c Clock) With(dst Clock, a Actor, n uint64) Clock {
	dst = append(dst[:0], c...)
	i, ok := dst.find(a)
	if ok {
		dst[i].Counter = max(dst[i].Counter, n)
		return dst
	}
	return slices.Insert(dst, i, Entry{a, n})
}

// Join appends the pointwise maximum of a and b to dst[:0] and returns it.
// dst must not alias a or b.
func Join(dst, a, b Clock) Clock {
	dst = dst[:0]
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].Actor < b[j].Actor:
			dst = append(dst, a[i])
			i++
		case a[i].Actor > b[j].Actor:
			dst = append(dst, b[j])
			j++
		default:
			dst = append(dst, Entry{a[i].Actor, max(a[i].Counter, b[j].Counter)})
			i++
			j++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}

// Clock encoding: the opaque context clients carry, and part of every
// stored record. Versioned so that a later format can be told apart.
//
//	byte    format (1)
//	uvarint number of entries
//	per entry: 8 bytes actor (little endian), uvarint counter
const clockFormat = 1

// ErrMalformed is returned for bytes that are not a clock this package wrote.
var ErrMalformed = errors.New("dvv: malformed clock")

// maxEntries bounds decoding work on hostile input; a clock gains one entry
// per node incarnation that ever coordinated a write to the key.
const maxEntries = 4096

// AppendClock appends the encoding of c to dst.
func AppendClock(dst []byte, c Clock) []byte {
	dst = append(dst, clockFormat)
	dst = binary.AppendUvarint(dst, uint64(len(c)))
	for _, e := range c {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Actor))
		dst = binary.AppendUvarint(dst, e.Counter)
	}
	return dst
}

// DecodeClock decodes a clock from the front of b into dst[:0] and returns it
// with the number of bytes read. An empty b is the empty clock. It rejects
// unsorted or duplicate actors and zero counters, so every decoded clock is
// canonical and equal clocks have equal encodings.
func DecodeClock(dst Clock, b []byte) (Clock, int, error) {
	dst = dst[:0]
	if len(b) == 0 {
		return dst, 0, nil
	}
	if b[0] != clockFormat {
		return dst, 0, ErrMalformed
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n > maxEntries {
		return dst, 0, ErrMalformed
	}
	off := 1 + k
	for i := uint64(0); i < n; i++ {
		if len(b)-off < 8 {
			return dst, 0, ErrMalformed
		}
		a := Actor(binary.LittleEndian.Uint64(b[off:]))
		off += 8
		ctr, k := binary.Uvarint(b[off:])
		if k <= 0 || ctr == 0 || (len(dst) > 0 && dst[len(dst)-1].Actor >= a) {
			return dst, 0, ErrMalformed
		}
		off += k
		dst = append(dst, Entry{a, ctr})
	}
	return dst, off, nil
}
