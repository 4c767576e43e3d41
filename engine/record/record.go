// Package record encodes one key's stored state: its causal clock and its
// siblings (dot, timestamp, memcached flags, expiry, tombstone mark, value).
// It is pure and allocation-free on decode: decoded values alias the input.
//
// Format 1, little endian where fixed width:
//
//	byte     format (1)
//	clock    dvv clock encoding
//	uvarint  number of siblings, then per sibling, sorted by dot:
//	  8 bytes  dot actor
//	  uvarint  dot counter
//	  uvarint  HLC timestamp
//	  uvarint  flags (uint32)
//	  varint   expiry, absolute unix seconds, 0 = never
//	  byte     kind: 0 value, 1 tombstone
//	  uvarint  value length, then the value
package record

import (
	"encoding/binary"
	"errors"
	"slices"

	"github.com/dynamo-kv/dynamo/engine/dvv"
)

const format = 1

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
		kind := byte(0)
		if s.Deleted {
			kind = 1
		}
		dst = append(dst, kind)
		dst = binary.AppendUvarint(dst, uint64(len(s.Value)))
		dst = append(dst, s.Value...)
	}
	return dst
}

// maxSiblings bounds decoding work on corrupt input; the engine's own bound
// is far lower.
const maxSiblings = 1 << 16

// Decode fills r (after Reset) from b. Sibling values alias b.
func Decode(r *Record, b []byte) error {
	r.Reset()
	if len(b) == 0 || b[0] != format {
		return ErrCorrupt
	}
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
		flags := d.uvarint()
		s.Flags = uint32(flags)
		s.Expires = d.varint()
		kind := d.byte()
		s.Deleted = kind == 1
		s.Value = d.bytes(d.uvarint())
		if flags > 1<<32-1 || kind > 1 || !r.Clock.Covers(s.Dot) || s.Dot.Counter == 0 {
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
