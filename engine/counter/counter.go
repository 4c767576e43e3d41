// Package counter is the arithmetic of memcached's incr and decr on a
// replicated store: a PN-counter per key, so that increments made on
// both sides of a partition, or by two coordinators at once, merge
// without loss, while classic clients still read a decimal number. It
// also holds memcached's rule for reading a value as a number. Pure.
//
// A counter version carries a base (the plain number it started from,
// named by that value's dot) and, per actor that changed it since, the
// running totals of its increments and decrements. Versions of one
// lineage (the same base) merge by taking each actor's larger totals; the
// value is base + Σ increments − Σ decrements, floored at 0 and wrapping
// at 2^64 as memcached's incr does. A decrement records only what it
// could take (decr stops at 0), so one side of a partition never drives
// the merged value below what it saw; two sides decrementing at once can,
// and the value then reads 0. (The floor is on the unwrapped sum: a
// counter that wrapped past 2^64 and is then decremented on both sides of
// a partition reads a huge number rather than 0.)
package counter

import (
	"bytes"
	"math/bits"
	"slices"
	"strconv"

	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/record"
)

// byActor orders entries for binary search.
func byActor(x record.CounterEntry, a dvv.Actor) int {
	switch {
	case x.Actor < a:
		return -1
	case x.Actor > a:
		return 1
	}
	return 0
}

// Merge returns the pointwise maximum of the entries of every counter in
// cs (one lineage), sorted by actor, in dst[:0].
func Merge(dst []record.CounterEntry, cs ...*record.Counter) []record.CounterEntry {
	dst = dst[:0]
	for _, c := range cs {
		for _, e := range c.Entries {
			i, found := slices.BinarySearchFunc(dst, e.Actor, byActor)
			if !found {
				dst = slices.Insert(dst, i, e)
				continue
			}
			dst[i].Inc, dst[i].Dec = max(dst[i].Inc, e.Inc), max(dst[i].Dec, e.Dec)
		}
	}
	return dst
}

// Value is what a counter of this base and these entries reads.
func Value(base uint64, entries []record.CounterEntry) uint64 {
	// Sum in 128 bits (hi, lo) so that the floor at 0 is exact: increments
	// wrap at 2^64 only in the result, as repeated incrs would.
	var incHi, incLo uint64 = 0, base
	var decHi, decLo uint64
	var c uint64
	for _, e := range entries {
		incLo, c = bits.Add64(incLo, e.Inc, 0)
		incHi += c
		decLo, c = bits.Add64(decLo, e.Dec, 0)
		decHi += c
	}
	lo, borrow := bits.Sub64(incLo, decLo, 0)
	hi, _ := bits.Sub64(incHi, decHi, borrow)
	if int64(hi) < 0 {
		return 0
	}
	return lo
}

// Apply adds delta (or, with decr, takes up to delta, stopping at 0) to a
// counter that reads cur, as actor a, and returns the entries after it
// and the new value. entries is not modified.
func Apply(entries []record.CounterEntry, a dvv.Actor, cur, delta uint64, decr bool) ([]record.CounterEntry, uint64) {
	out := slices.Clone(entries)
	i, found := slices.BinarySearchFunc(out, a, byActor)
	if !found {
		out = slices.Insert(out, i, record.CounterEntry{Actor: a})
	}
	if decr {
		take := min(delta, cur)
		out[i].Dec += take
		return out, cur - take
	}
	out[i].Inc += delta
	return out, cur + delta
}

// Width is how wide the value is rendered after a change from a value
// rendered old bytes wide to next: memcached rewrites a number in place,
// padding it with spaces, when it is no longer than the old value, and
// makes a new item of the exact length otherwise.
func Width(old int, next uint64) int {
	if n := digits(next); n > old {
		return n
	}
	return old
}

// Render appends v in decimal, padded with spaces to width.
func Render(dst []byte, v uint64, width int) []byte {
	start := len(dst)
	dst = strconv.AppendUint(dst, v, 10)
	for len(dst)-start < width {
		dst = append(dst, ' ')
	}
	return dst
}

func digits(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// memcached parses every numeric argument with strtol/strtoul/strtoull and
// then its own safe_* checks (util.c). Clients depend on the quirks that
// follow (leading whitespace and a '+' are accepted, "-1" is rejected as
// unsigned), so the functions here reproduce them on byte slices instead
// of using strconv.

// CSpace reports whether b is isspace in the C locale.
func CSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }

// CString cuts s at its first NUL, as C string functions see it.
func CString(s []byte) []byte {
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// ScanDecimal is strtoull's scan: optional whitespace and sign, then
// base-10 digits. ok is false when there are no digits or the character
// after them is neither whitespace nor the end of s. overflow is set when
// the magnitude does not fit 64 bits (strtoull's ERANGE).
func ScanDecimal(s []byte) (mag uint64, neg, overflow, ok bool) {
	s = CString(s)
	i := 0
	for i < len(s) && CSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if mag > (^uint64(0)-d)/10 {
			overflow = true
		}
		mag = mag*10 + d
	}
	if i == start {
		return 0, false, false, false
	}
	if i < len(s) && !CSpace(s[i]) {
		return 0, false, false, false
	}
	return mag, neg, overflow, true
}

// ParseUint64 is safe_strtoull: negative numbers are rejected only when
// the wrapped result looks negative as a signed value, as in memcached.
func ParseUint64(s []byte) (uint64, bool) {
	mag, neg, overflow, ok := ScanDecimal(s)
	if !ok || overflow {
		return 0, false
	}
	v := mag
	if neg {
		v = -mag
	}
	if int64(v) < 0 && bytes.IndexByte(CString(s), '-') >= 0 {
		return 0, false
	}
	return v, true
}
