package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/dynamo-kv/dynamo/ring"
	"github.com/hashicorp/memberlist"
)

// Node metadata rides in every memberlist alive message, so it must stay
// under memberlist.MetaMaxSize (512 bytes; memberlist panics beyond it).
// The node ID is not in it: it is the memberlist node name, which travels
// beside the metadata. Format 1 (integers little endian, uvarint as in
// encoding/binary):
//
//	format      1 byte, this is 1; decoders reject formats they do not know
//	intent      1 byte: 1 join (wants to be a ring member), 2 leave, 3 left
//	            and holds nothing (drained)
//	weight      8 bytes, float64 bits
//	ring        uvarint version, then 8 bytes fingerprint: the ring held
//	ring config 1 byte log2(partitions), 1 byte replicas; both 0 while the
//	            node holds no ring
//	zone        uvarint length, bytes
//	internode   uvarint length, bytes (host:port)
//	client      uvarint length, bytes (host:port)
//	removes     format 2 only: uvarint count (at least 1), then per ID a
//	            uvarint length and bytes, sorted and distinct: nodes this
//	            node asks the claimant to remove from the ring for good
//	            (Membership.Remove)
//
// A node asking for no removal writes format 1. Formats are append-only:
// a new field means a new format number.
const (
	metaFormat        = 1
	metaFormatRemoves = 2
)

// metaFixedMax is the largest encoding of everything but the three strings.
const metaFixedMax = 1 + 1 + 8 + binary.MaxVarintLen64 + 8 + 2

// intent is what a node asks of the ring. Values are part of the wire
// format: only append.
type intent uint8

const (
	intentJoin  intent = 1 // be a ring member (every running node that is not leaving)
	intentLeave intent = 2 // be removed from the ring
	// intentDrained: removed from the ring and holding nothing (no record,
	// no hint). Only such a node may be forgotten while down: any other
	// may hold a copy that would bring back what the others reaped.
	intentDrained intent = 3
)

// leaving reports whether the intent asks to be out of the ring.
func (i intent) leaving() bool { return i == intentLeave || i == intentDrained }

// stamp identifies a ring: its version and fingerprint.
type stamp struct {
	version, fingerprint uint64
}

func stampOf(r *ring.Ring) stamp {
	if r == nil {
		return stamp{}
	}
	return stamp{r.Version(), r.Fingerprint()}
}

// beats reports whether a ring stamped s wins over one stamped o: a higher
// version, or the same version and a smaller fingerprint. Every node
// applies the same total order, so rings made concurrently (two claimants,
// two clusters started alone) converge on one. No ring (the zero stamp)
// loses to every ring.
func (s stamp) beats(o stamp) bool {
	return s.version > o.version || s.version == o.version && s.fingerprint < o.fingerprint
}

// nodeMeta is a node's metadata.
type nodeMeta struct {
	intent                    intent
	weight                    float64
	ring                      stamp
	ringConfig                ring.Config // zero while the node holds no ring
	zone                      string
	internodeAddr, clientAddr string
	// removes is the removal requests as encoded after the count (a
	// string, so that nodeMeta stays comparable); see removals.
	removes string
}

// encodeRemovals is the removes field for ids (sorted, distinct).
func encodeRemovals(ids []string) string {
	var b []byte
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	return string(b)
}

// removals lists the IDs of m.removes.
func (m nodeMeta) removals() []string {
	var out []string
	for b := m.removes; len(b) > 0; {
		l, n := binary.Uvarint([]byte(b[:min(len(b), binary.MaxVarintLen64)]))
		out = append(out, b[n:n+int(l)])
		b = b[n+int(l):]
	}
	return out
}

// removing reports whether m asks for id's removal.
func (m nodeMeta) removing(id string) bool { return slices.Contains(m.removals(), id) }

func ringConfigOf(r *ring.Ring) ring.Config {
	if r == nil {
		return ring.Config{}
	}
	return r.Config()
}

var errMeta = errors.New("membership: bad node metadata")

func (m nodeMeta) appendTo(b []byte) []byte {
	format := byte(metaFormat)
	if m.removes != "" {
		format = metaFormatRemoves
	}
	b = append(b, format, byte(m.intent))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.weight))
	b = binary.AppendUvarint(b, m.ring.version)
	b = binary.LittleEndian.AppendUint64(b, m.ring.fingerprint)
	var log2q, replicas byte
	if m.ringConfig.Partitions > 0 {
		log2q, replicas = byte(bits.TrailingZeros(uint(m.ringConfig.Partitions))), byte(m.ringConfig.Replicas)
	}
	b = append(b, log2q, replicas)
	for _, s := range [...]string{m.zone, m.internodeAddr, m.clientAddr} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if m.removes != "" {
		b = binary.AppendUvarint(b, uint64(len(m.removals())))
		b = append(b, m.removes...)
	}
	return b
}

// decodeMeta parses metadata written by appendTo. It accepts only a
// well-formed encoding whose values a ring would accept.
func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) < 2+8 {
		return m, fmt.Errorf("%w: %d bytes", errMeta, len(b))
	}
	format := b[0]
	if format != metaFormat && format != metaFormatRemoves {
		return m, fmt.Errorf("%w: format %d", errMeta, b[0])
	}
	m.intent = intent(b[1])
	if m.intent != intentJoin && m.intent != intentLeave && m.intent != intentDrained {
		return m, fmt.Errorf("%w: intent %d", errMeta, b[1])
	}
	m.weight = math.Float64frombits(binary.LittleEndian.Uint64(b[2:]))
	if validateWeight(m.weight) != nil {
		return m, fmt.Errorf("%w: weight %v", errMeta, m.weight)
	}
	b = b[10:]
	v, n := uvarint(b)
	if n <= 0 || len(b) < n+8 {
		return m, fmt.Errorf("%w: truncated ring stamp", errMeta)
	}
	m.ring = stamp{v, binary.LittleEndian.Uint64(b[n:])}
	b = b[n+8:]
	if len(b) < 2 {
		return m, fmt.Errorf("%w: truncated ring config", errMeta)
	}
	if q, r := b[0], b[1]; r != 0 {
		if q > 16 || r > ring.MaxReplicas {
			return m, fmt.Errorf("%w: ring config 2^%d partitions, %d replicas", errMeta, q, r)
		}
		m.ringConfig = ring.Config{Partitions: 1 << q, Replicas: int(r)}
	} else if q != 0 {
		return m, fmt.Errorf("%w: ring config without replicas", errMeta)
	}
	b = b[2:]
	for _, s := range [...]*string{&m.zone, &m.internodeAddr, &m.clientAddr} {
		l, n := uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return m, fmt.Errorf("%w: truncated string", errMeta)
		}
		*s, b = string(b[n:n+int(l)]), b[n+int(l):]
	}
	if format == metaFormatRemoves {
		count, n := uvarint(b)
		if n <= 0 || count == 0 || count > uint64(len(b)) {
			return m, fmt.Errorf("%w: bad removal count", errMeta)
		}
		b = b[n:]
		start, last := b, ""
		for i := range count {
			l, n := uvarint(b)
			if n <= 0 || l == 0 || l > ring.MaxNameLen || l > uint64(len(b)-n) {
				return m, fmt.Errorf("%w: truncated removal", errMeta)
			}
			id := string(b[n : n+int(l)])
			if i > 0 && id <= last {
				return m, fmt.Errorf("%w: removals not sorted", errMeta)
			}
			last, b = id, b[n+int(l):]
		}
		m.removes = string(start[:len(start)-len(b)])
	}
	if len(b) != 0 {
		return m, fmt.Errorf("%w: %d trailing bytes", errMeta, len(b))
	}
	if len(m.zone) > ring.MaxNameLen {
		return m, fmt.Errorf("%w: zone of %d bytes", errMeta, len(m.zone))
	}
	return m, nil
}

// checkMetaSize reports ErrMetaTooLarge when metadata with these strings
// could exceed memberlist.MetaMaxSize, whatever ring version it carries.
func checkMetaSize(zone, internodeAddr, clientAddr string) error {
	size := metaFixedMax
	for _, s := range [...]string{zone, internodeAddr, clientAddr} {
		size += uvarintLen(uint64(len(s))) + len(s)
	}
	if size > memberlist.MetaMaxSize {
		return fmt.Errorf("%w: %d bytes (zone %d, internode address %d, client address %d)",
			ErrMetaTooLarge, size, len(zone), len(internodeAddr), len(clientAddr))
	}
	return nil
}

// uvarint is binary.Uvarint accepting only the shortest encoding, so that
// each metadata value has one form.
func uvarint(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n > 0 && n != uvarintLen(v) {
		return 0, -1
	}
	return v, n
}

func uvarintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}
