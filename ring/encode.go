package ring

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
)

// Encoding, format 1 (all integers little endian; uvarint as in
// encoding/binary):
//
//	magic    "DRNG"
//	format   1 byte, this is 1; decoders reject formats they do not know
//	log2(Q)  1 byte
//	replicas 1 byte
//	version  uvarint
//	zones    uvarint count, then per zone: uvarint length, bytes (sorted, distinct)
//	members  uvarint count, then per member (sorted by ID):
//	         uvarint length, ID bytes, uvarint zone index, weight as float64 bits (8 bytes)
//	owners   Q member indexes of bits.Len(members-1) bits each, packed from
//	         the low bit of each byte up, zero padded to a whole byte
//	removed  format 2 only: uvarint count, then per ID: uvarint length,
//	         bytes (sorted, distinct, none a member); IDs that may never be
//	         members again (Ring.Remove)
//	crc32c   4 bytes, Castagnoli CRC of everything before it
//
// A ring with no removed ID is written in format 1, so rings saved by a
// release before format 2 and rings of clusters that never removed a node
// keep their bytes.
//
// A ring of 1000 members over 1024 partitions takes about 1.3 KB plus the
// IDs. Formats are append-only: a new field means a new format number.
// The encoding is canonical: Decode accepts only what Encode writes, so
// Encode(Decode(b)) == b and equal rings have equal bytes.
const (
	encMagic         = "DRNG"
	encFormat        = 1
	encFormatRemoved = 2 // format 1 plus the removed IDs
	// encMinMember is the smallest member record: 1-byte ID with its
	// length, a zone index and a weight. It bounds allocation in Decode.
	encMinMember = 1 + 1 + 1 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode returns the ring's canonical encoding, for gossip and storage.
func (r *Ring) Encode() []byte { return bytes.Clone(r.enc) }

// AppendEncode appends the ring's canonical encoding to dst.
func (r *Ring) AppendEncode(dst []byte) []byte { return append(dst, r.enc...) }

// Equal reports whether two rings are identical: same config, version,
// members and owners.
func (r *Ring) Equal(o *Ring) bool { return bytes.Equal(r.enc, o.enc) }

// Replaces reports whether r replaces o in the order every node adopts
// rings by: a higher version, or the same version and a smaller
// fingerprint (rings made at once by two claimants converge on one).
func (r *Ring) Replaces(o *Ring) bool {
	return r.version > o.version || r.version == o.version && r.fingerprint < o.fingerprint
}

func (r *Ring) encode() []byte {
	format := byte(encFormat)
	if len(r.removed) > 0 {
		format = encFormatRemoved
	}
	b := append([]byte(encMagic), format, byte(r.cfg.log2()), byte(r.cfg.Replicas))
	b = binary.AppendUvarint(b, r.version)
	b = binary.AppendUvarint(b, uint64(len(r.zones)))
	for _, z := range r.zones {
		b = appendString(b, z)
	}
	b = binary.AppendUvarint(b, uint64(len(r.members)))
	for i, m := range r.members {
		b = appendString(b, m.ID)
		b = binary.AppendUvarint(b, uint64(r.zoneOf[i]))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Weight))
	}
	b = appendPacked(b, r.owners, ownerWidth(len(r.members)))
	if len(r.removed) > 0 {
		b = binary.AppendUvarint(b, uint64(len(r.removed)))
		for _, id := range r.removed {
			b = appendString(b, id)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// ownerWidth is the bits per owner entry: enough for members-1.
func ownerWidth(members int) int { return bits.Len(uint(members - 1)) }

func appendPacked(b []byte, vals []uint16, width int) []byte {
	var acc uint64
	n := 0
	for _, v := range vals {
		acc |= uint64(v) << n
		for n += width; n >= 8; n -= 8 {
			b = append(b, byte(acc))
			acc >>= 8
		}
	}
	if n > 0 {
		b = append(b, byte(acc))
	}
	return b
}

// Decode parses an encoded ring. It returns ErrFormat for a format it does
// not know and ErrCorrupt (wrapped with the reason) for anything else
// wrong. The ring is checked for structure, not for balance: a ring built
// by another release of the placement code decodes as long as it is well
// formed.
func Decode(b []byte) (*Ring, error) {
	if len(b) < len(encMagic)+4+4 || string(b[:len(encMagic)]) != encMagic {
		return nil, fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	if b[4] != encFormat && b[4] != encFormatRemoved {
		return nil, fmt.Errorf("%w %d", ErrFormat, b[4])
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	d := decoder{buf: body[5:], withRemoved: b[4] == encFormatRemoved}
	r, err := d.ring()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(r.enc, b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrCorrupt)
	}
	return r, nil
}

// decoder reads the body of an encoding; the first error sticks.
type decoder struct {
	buf         []byte
	err         error
	withRemoved bool // format 2
}

func (d *decoder) ring() (*Ring, error) {
	log2, replicas := d.byte(), d.byte()
	if d.err == nil && log2 > 16 {
		d.fail("partition bits %d", log2)
	}
	cfg := Config{Partitions: 1 << (log2 & 31), Replicas: int(replicas)}
	if d.err == nil {
		if err := cfg.validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	version := d.uvarint()
	zones := d.zones(cfg.Partitions)
	members := d.members(zones, cfg.Partitions)
	owners := d.owners(cfg.Partitions, len(members))
	var removed []string
	if d.withRemoved {
		removed = d.removed(members)
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	if _, err := normalize(members, cfg.Partitions); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return assemble(cfg, members, owners, version, removed), nil
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.buf) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.buf[0]
	d.buf = d.buf[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// count reads a length that must be at most limit.
func (d *decoder) count(limit int, what string) int {
	v := d.uvarint()
	if limit < 0 || v > uint64(limit) {
		d.fail("%s count %d over %d", what, v, limit)
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.count(MaxNameLen, "name")
	if d.err != nil || len(d.buf) < n {
		d.fail("truncated name")
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) zones(partitions int) []string {
	n := d.count(min(partitions, len(d.buf)), "zone")
	zones := make([]string, 0, n)
	for range n {
		z := d.string()
		if len(zones) > 0 && z <= zones[len(zones)-1] {
			d.fail("zones not sorted")
		}
		zones = append(zones, z)
	}
	return zones
}

func (d *decoder) members(zones []string, partitions int) []Member {
	n := d.count(min(partitions, len(d.buf)/encMinMember), "member")
	members := make([]Member, 0, n)
	used := make([]bool, len(zones))
	for range n {
		id := d.string()
		if len(members) > 0 && id <= members[len(members)-1].ID {
			d.fail("members not sorted")
		}
		z := d.count(len(zones)-1, "zone index")
		if d.err == nil && len(d.buf) < 8 {
			d.fail("truncated member")
		}
		if d.err != nil {
			return nil
		}
		w := math.Float64frombits(binary.LittleEndian.Uint64(d.buf))
		d.buf = d.buf[8:]
		used[z] = true
		members = append(members, Member{ID: id, Zone: zones[z], Weight: w})
	}
	for z, ok := range used {
		if !ok && d.err == nil {
			d.fail("zone %q has no members", zones[z])
		}
	}
	return members
}

// removed reads format 2's removed IDs: at least one (format 1 is written
// otherwise), sorted, none a member.
func (d *decoder) removed(members []Member) []string {
	n := d.count(len(d.buf)/2, "removed")
	if d.err == nil && n == 0 {
		d.fail("format 2 with no removed ID")
	}
	out := make([]string, 0, n)
	for range n {
		id := d.string()
		switch {
		case d.err != nil:
			return nil
		case id == "":
			d.fail("empty removed ID")
		case len(out) > 0 && id <= out[len(out)-1]:
			d.fail("removed IDs not sorted")
		case memberIndex(members, id) >= 0:
			d.fail("removed ID %q is a member", id)
		}
		out = append(out, id)
	}
	return out
}

func (d *decoder) owners(partitions, members int) []uint16 {
	if d.err != nil {
		return nil
	}
	if members == 0 {
		d.fail("no members")
		return nil
	}
	width := ownerWidth(members)
	size := (partitions*width + 7) / 8
	if len(d.buf) < size {
		d.fail("truncated owners")
		return nil
	}
	owners := make([]uint16, partitions)
	var acc uint64
	n, next := 0, 0
	for p := range owners {
		for n < width {
			acc |= uint64(d.buf[next]) << n
			next++
			n += 8
		}
		owners[p] = uint16(acc & (1<<width - 1))
		acc >>= width
		n -= width
		if int(owners[p]) >= members {
			d.fail("owner %d of partition %d out of range", owners[p], p)
			return nil
		}
	}
	d.buf = d.buf[size:]
	return owners
}
