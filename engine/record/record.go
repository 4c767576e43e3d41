// Package record encodes one key's stored state: its causal clock and its
// siblings (dot, timestamp, memcached flags, expiry, kind, cas origin,
// value or counter). It is pure and allocation-free on decode for plain
// values: decoded values alias the input.
//
// Format 2, little endian where fixed width:
//
//	byte     format (2)
//	clock    dvv clock encoding
//	uvarint  number of siblings, then per sibling, sorted by dot:
//	  8 bytes  dot actor
//	  uvarint  dot counter
//	  uvarint  HLC timestamp
//	  uvarint  flags (uint32)
//	  varint   expiry, absolute unix seconds, 0 = never
//	  byte     kind: 0 value, 1 tombstone, 2 counter
//	  uvarint  origin counter; when not 0, then 8 bytes origin actor
//	           (0: the origin is the sibling's own dot)
//	  kind 2 only, the counter:
//	    uvarint  base, the number it started from
//	    8 bytes  base dot actor, uvarint base dot counter
//	    uvarint  width: the rendered value is space-padded to it
//	    uvarint  entries, then per entry sorted by actor:
//	             8 bytes actor, uvarint increments, uvarint decrements
//	  uvarint  value length, then the value (empty for a counter)
//
// Format 1 (no origin, no counters, HLC timestamps in milliseconds and a
// 16-bit counter) is still read: its timestamps are converted to format
// 2's microseconds and 12-bit counter, so that data written before reads
// as older than data written after, as it is.
package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/hlc"
)

const (
	format1 = 1
	format  = 2
)

// ErrCorrupt marks bytes that are not a record this package wrote.
var ErrCorrupt = errors.New("record: corrupt")

// Sibling is one stored version.
type Sibling struct {
	Dot       dvv.Dot
	Timestamp uint64
	Flags     uint32
	Expires   int64
	Deleted   bool
	Value     []byte
	// Origin names the write whose value this is, for memcached's cas
	// unique: a touch writes a new version of the same value, which keeps
	// the origin (and so the cas) of the one it replaced. Zero means Dot.
	Origin dvv.Dot
	// Counter, when set, makes this version a counter (incr and decr):
	// its value is derived from the counter state, merged with the other
	// counter versions of the same lineage (see Counter).
	Counter *Counter
}

// CASOrigin is the write the sibling's value comes from.
func (s *Sibling) CASOrigin() dvv.Dot {
	if s.Origin == (dvv.Dot{}) {
		return s.Dot
	}
	return s.Origin
}

// Counter is the state of a counter version: a PN-counter over a base.
// Every actor that incremented or decremented the counter since Base was
// set has an entry with its running totals; two versions made apart (on
// both sides of a partition) merge by taking each actor's larger totals,
// so no increment is lost. Versions of one lineage share BaseDot, the dot
// of the plain value the counting started from.
type Counter struct {
	Base    uint64
	BaseDot dvv.Dot
	Width   uint32
	Entries []CounterEntry
}

// CounterEntry is one actor's running totals.
type CounterEntry struct {
	Actor    dvv.Actor
	Inc, Dec uint64
}

// Compare orders two versions by everything they carry: timestamp,
// expiry, flags, kind, origin, value, counter state. Two copies of one dot
// should be equal; should they ever differ, replicas keep the greater one
// and so still converge.
func Compare(a, b *Sibling) int {
	switch {
	case a.Timestamp != b.Timestamp:
		return cmpU(a.Timestamp, b.Timestamp)
	case a.Expires != b.Expires:
		return cmpU(uint64(a.Expires), uint64(b.Expires))
	case a.Flags != b.Flags:
		return cmpU(uint64(a.Flags), uint64(b.Flags))
	case a.Deleted != b.Deleted:
		return cmpBool(a.Deleted, b.Deleted)
	case a.Origin != b.Origin:
		if a.Origin.Less(b.Origin) {
			return -1
		}
		return 1
	}
	if c := bytes.Compare(a.Value, b.Value); c != 0 {
		return c
	}
	switch {
	case a.Counter == nil && b.Counter == nil:
		return 0
	case a.Counter == nil:
		return -1
	case b.Counter == nil:
		return 1
	}
	ca, cb := a.Counter, b.Counter
	switch {
	case ca.Base != cb.Base:
		return cmpU(ca.Base, cb.Base)
	case ca.BaseDot != cb.BaseDot:
		if ca.BaseDot.Less(cb.BaseDot) {
			return -1
		}
		return 1
	case ca.Width != cb.Width:
		return cmpU(uint64(ca.Width), uint64(cb.Width))
	}
	return slices.CompareFunc(ca.Entries, cb.Entries, func(x, y CounterEntry) int {
		switch {
		case x.Actor != y.Actor:
			return cmpU(uint64(x.Actor), uint64(y.Actor))
		case x.Inc != y.Inc:
			return cmpU(x.Inc, y.Inc)
		}
		return cmpU(x.Dec, y.Dec)
	})
}

func cmpU(a, b uint64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func cmpBool(a, b bool) int {
	if a == b {
		return 0
	}
	if b {
		return -1
	}
	return 1
}

// Record is a key's state. Siblings are sorted by dot and every sibling's
// dot is covered by Clock.
type Record struct {
	Clock    dvv.Clock
	Siblings []Sibling
}

// Reset empties r, keeping its slices for reuse.
func (r *Record) Reset() {
	r.Clock = r.Clock[:0]
	r.Siblings = r.Siblings[:0]
}

// Sort puts siblings in canonical (dot) order.
func (r *Record) Sort() {
	slices.SortFunc(r.Siblings, func(a, b Sibling) int {
		switch {
		case a.Dot.Less(b.Dot):
			return -1
		case b.Dot.Less(a.Dot):
			return 1
		}
		return 0
	})
}

const (
	kindValue   = 0
	kindDeleted = 1
	kindCounter = 2
)

// Append appends r's encoding to dst.
func Append(dst []byte, r *Record) []byte {
	dst = append(dst, format)
	dst = dvv.AppendClock(dst, r.Clock)
	dst = binary.AppendUvarint(dst, uint64(len(r.Siblings)))
	for i := range r.Siblings {
		s := &r.Siblings[i]
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.Dot.Actor))
		dst = binary.AppendUvarint(dst, s.Dot.Counter)
		dst = binary.AppendUvarint(dst, s.Timestamp)
		dst = binary.AppendUvarint(dst, uint64(s.Flags))
		dst = binary.AppendVarint(dst, s.Expires)
		kind := byte(kindValue)
		switch {
		case s.Deleted:
			kind = kindDeleted
		case s.Counter != nil:
			kind = kindCounter
		}
		dst = append(dst, kind)
		if s.Origin == (dvv.Dot{}) || s.Origin == s.Dot {
			dst = binary.AppendUvarint(dst, 0)
		} else {
			dst = binary.AppendUvarint(dst, s.Origin.Counter)
			dst = binary.LittleEndian.AppendUint64(dst, uint64(s.Origin.Actor))
		}
		if kind == kindCounter {
			c := s.Counter
			dst = binary.AppendUvarint(dst, c.Base)
			dst = binary.LittleEndian.AppendUint64(dst, uint64(c.BaseDot.Actor))
			dst = binary.AppendUvarint(dst, c.BaseDot.Counter)
			dst = binary.AppendUvarint(dst, uint64(c.Width))
			dst = binary.AppendUvarint(dst, uint64(len(c.Entries)))
			for _, e := range c.Entries {
				dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Actor))
				dst = binary.AppendUvarint(dst, e.Inc)
				dst = binary.AppendUvarint(dst, e.Dec)
			}
		}
		val := s.Value
		if kind != kindValue {
			val = nil
		}
		dst = binary.AppendUvarint(dst, uint64(len(val)))
		dst = append(dst, val...)
	}
	return dst
}

// maxSiblings bounds decoding work on corrupt input; the engine's own bound
// is far lower. maxEntries likewise bounds a counter's actors.
const (
	maxSiblings = 1 << 16
	maxEntries  = 1 << 12
)

// Decode fills r (after Reset) from b. Sibling values alias b.
func Decode(r *Record, b []byte) error {
	r.Reset()
	if len(b) == 0 || (b[0] != format && b[0] != format1) {
		return ErrCorrupt
	}
	v2 := b[0] == format
	clock, n, err := dvv.DecodeClock(r.Clock, b[1:])
	if err != nil {
		return ErrCorrupt
	}
	r.Clock = clock
	d := decoder{b: b, off: 1 + n, ok: true}
	count := d.uvarint()
	if count > maxSiblings {
		return ErrCorrupt
	}
	for i := uint64(0); i < count && d.ok; i++ {
		var s Sibling
		s.Dot.Actor = dvv.Actor(d.fixed64())
		s.Dot.Counter = d.uvarint()
		s.Timestamp = d.uvarint()
		if !v2 {
			s.Timestamp = hlc.FromMillis16(s.Timestamp)
		}
		flags := d.uvarint()
		s.Flags = uint32(flags)
		s.Expires = d.varint()
		kind := d.byte()
		s.Deleted = kind == kindDeleted
		if v2 {
			if oc := d.uvarint(); oc != 0 {
				s.Origin = dvv.Dot{Counter: oc, Actor: dvv.Actor(d.fixed64())}
				if s.Origin == s.Dot || s.Origin.Actor == 0 {
					return ErrCorrupt // not canonical
				}
			}
			if kind == kindCounter {
				c := &Counter{Base: d.uvarint()}
				c.BaseDot.Actor = dvv.Actor(d.fixed64())
				c.BaseDot.Counter = d.uvarint()
				width := d.uvarint()
				ne := d.uvarint()
				if width > 1<<30 || ne > maxEntries {
					return ErrCorrupt
				}
				c.Width = uint32(width)
				for j := uint64(0); j < ne && d.ok; j++ {
					e := CounterEntry{Actor: dvv.Actor(d.fixed64()), Inc: d.uvarint(), Dec: d.uvarint()}
					if len(c.Entries) > 0 && c.Entries[len(c.Entries)-1].Actor >= e.Actor {
						return ErrCorrupt
					}
					c.Entries = append(c.Entries, e)
				}
				s.Counter = c
			}
		}
		s.Value = d.bytes(d.uvarint())
		maxKind := byte(kindDeleted)
		if v2 {
			maxKind = kindCounter
		}
		if flags > 1<<32-1 || kind > maxKind || !r.Clock.Covers(s.Dot) || s.Dot.Counter == 0 ||
			(kind != kindValue && len(s.Value) != 0) {
			return ErrCorrupt
		}
		if len(r.Siblings) > 0 && !r.Siblings[len(r.Siblings)-1].Dot.Less(s.Dot) {
			return ErrCorrupt
		}
		r.Siblings = append(r.Siblings, s)
	}
	if !d.ok || d.off != len(b) {
		return ErrCorrupt
	}
	return nil
}

// decoder reads fields, latching the first failure in ok.
type decoder struct {
	b   []byte
	off int
	ok  bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b[min(d.off, len(d.b)):])
	if n <= 0 {
		d.ok = false
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b[min(d.off, len(d.b)):])
	if n <= 0 {
		d.ok = false
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) fixed64() uint64 {
	if len(d.b)-d.off < 8 {
		d.ok = false
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

func (d *decoder) byte() byte {
	if d.off >= len(d.b) {
		d.ok = false
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if uint64(len(d.b)-d.off) < n {
		d.ok = false
		return nil
	}
	v := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return v
}
