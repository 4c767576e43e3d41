package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Protocol constants. They are part of the wire format: changing any of them
// is a protocol version change.
const (
	// HeaderSize is the size of the fixed frame header in bytes.
	HeaderSize = 20
	// Magic is the first byte of every frame. It makes a stray client (a
	// memcached text client on the wrong port, say) fail on its first byte.
	Magic byte = 0xD7
	// Version is the protocol version this package speaks. 2: the
	// cluster's payloads changed (a merge names the owners owed it, a put
	// carries touch and arithmetic, its result what the write saw). 3: a
	// fetch answer's first byte is a set of flags (found, and "behind": the
	// replica read its answer through), which a version-2 node would read
	// as "not found". Nodes before it are refused rather than misread; a
	// cluster moves to it by restarting every node.
	Version uint8 = 3
	// MinVersion is the oldest version this package still accepts. A
	// responder answers in the version of the request.
	MinVersion uint8 = 3
	// DefaultMaxPayload is the default limit on a frame's payload: 8 MiB.
	DefaultMaxPayload = 8 << 20
	// MaxPayloadLimit is the largest MaxPayload an Options may set (1 GiB).
	MaxPayloadLimit = 1 << 30
)

// Header field offsets; see doc.go for the layout and the reasons for it.
const (
	offMagic    = 0
	offVersion  = 1
	offType     = 2
	offFlags    = 3
	offID       = 4
	offLength   = 12
	offChecksum = 16
)

// MsgType identifies what a payload holds. The transport is generic over
// types: the application defines them. Type 0 is invalid (it catches zeroed
// buffers) and types 240-255 belong to the transport.
type MsgType uint8

const (
	// FirstReservedType is the lowest type reserved for the transport;
	// application types are 1 to FirstReservedType-1.
	FirstReservedType MsgType = 240
	// TypePing is answered by the server itself with an empty TypePing
	// response; the Handler never sees it. Pools use it to probe peers.
	TypePing MsgType = 255
)

// Reserved reports whether t may not be used as an application type.
func (t MsgType) Reserved() bool { return t == 0 || t >= FirstReservedType }

// Flags qualify a frame. Unknown bits are rejected, so a future flag is a
// protocol version change.
type Flags uint8

const (
	// FlagResponse marks a response; requests carry no flags.
	FlagResponse Flags = 1 << 0
	// FlagError marks a response whose payload is an error (see RemoteError)
	// rather than the handler's answer. It is only valid with FlagResponse.
	FlagError Flags = 1 << 1

	knownFlags = FlagResponse | FlagError
)

// Header is the decoded fixed header of a frame.
type Header struct {
	Version  uint8
	Type     MsgType
	Flags    Flags
	ID       uint64 // request id, chosen by the client, echoed in the response
	Length   uint32 // payload length in bytes
	Checksum uint32 // crc32c of the header's first 16 bytes and the payload
}

func (h Header) String() string {
	return fmt.Sprintf("v%d type=%d flags=%#x id=%d len=%d", h.Version, h.Type, h.Flags, h.ID, h.Length)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendFrame appends to dst a frame with h's version, type, flags and id,
// and payload; it fills in Length and Checksum. A zero h.Version means
// Version. The caller checks len(payload) against its limit.
func AppendFrame(dst []byte, h Header, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = append(dst, payload...)
	sealFrame(dst[start:], h)
	return dst
}

// sealFrame writes the header of frame, whose payload already follows the
// header space, and computes its checksum.
func sealFrame(frame []byte, h Header) {
	if h.Version == 0 {
		h.Version = Version
	}
	hdr := frame[:HeaderSize]
	hdr[offMagic] = Magic
	hdr[offVersion] = h.Version
	hdr[offType] = byte(h.Type)
	hdr[offFlags] = byte(h.Flags)
	binary.LittleEndian.PutUint64(hdr[offID:], h.ID)
	binary.LittleEndian.PutUint32(hdr[offLength:], uint32(len(frame)-HeaderSize))
	binary.LittleEndian.PutUint32(hdr[offChecksum:], checksum(hdr, frame[HeaderSize:]))
}

// checksum is the crc32c of the header's first 16 bytes and the payload.
func checksum(hdr, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, hdr[:offChecksum]), castagnoli, payload)
}

// ParseHeader decodes and checks the fixed header at the start of b. It
// rejects a short buffer, a bad magic byte, a version outside
// [MinVersion, Version], unknown or inconsistent flags, type 0 and a payload
// longer than maxPayload. It does not verify the checksum, which needs the
// payload: see Header.Verify.
func ParseHeader(b []byte, maxPayload uint32) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d-byte header", ErrMalformed, len(b))
	}
	if b[offMagic] != Magic {
		return Header{}, fmt.Errorf("%w: magic %#x", ErrMalformed, b[offMagic])
	}
	h := Header{
		Version:  b[offVersion],
		Type:     MsgType(b[offType]),
		Flags:    Flags(b[offFlags]),
		ID:       binary.LittleEndian.Uint64(b[offID:]),
		Length:   binary.LittleEndian.Uint32(b[offLength:]),
		Checksum: binary.LittleEndian.Uint32(b[offChecksum:]),
	}
	switch {
	case h.Version < MinVersion || h.Version > Version:
		return Header{}, fmt.Errorf("%w: %d", ErrVersion, h.Version)
	case h.Flags&^knownFlags != 0 || h.Flags == FlagError:
		return Header{}, fmt.Errorf("%w: flags %#x", ErrMalformed, h.Flags)
	case h.Type == 0:
		return Header{}, fmt.Errorf("%w: type 0", ErrMalformed)
	case h.Length > maxPayload:
		return Header{}, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, h.Length, maxPayload)
	}
	return h, nil
}

// Verify checks payload against the header's length and checksum. hdr is
// the raw header the Header was parsed from.
func (h Header) Verify(hdr, payload []byte) error {
	if uint32(len(payload)) != h.Length {
		return fmt.Errorf("%w: payload is %d bytes, header says %d", ErrMalformed, len(payload), h.Length)
	}
	if got := checksum(hdr, payload); got != h.Checksum {
		return fmt.Errorf("%w: computed %#08x, header %#08x", ErrChecksum, got, h.Checksum)
	}
	return nil
}

// TypeSet is a set of message types: the request types a server accepts.
// The zero value is empty.
type TypeSet [4]uint64

// NewTypeSet returns the set of the given types. It panics on a reserved
// type: sets are built from the application's constants at start-up.
func NewTypeSet(types ...MsgType) TypeSet {
	var s TypeSet
	for _, t := range types {
		if t.Reserved() {
			panic(fmt.Sprintf("wire: message type %d is reserved", t))
		}
		s[t/64] |= 1 << (t % 64)
	}
	return s
}

// Has reports whether t is in the set.
func (s *TypeSet) Has(t MsgType) bool { return s[t/64]&(1<<(t%64)) != 0 }

// Empty reports whether the set has no types.
func (s *TypeSet) Empty() bool { return *s == TypeSet{} }
