package wiretest

import (
	"math"

	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// frameFilter follows the wire frames in an outgoing byte stream, however
// the writes split them, and removes the frames chosen for dropping. A
// header's bytes are held until the header is complete, so a dropped frame
// leaves no trace. A stream that is not wire frames (its first byte is not
// wire.Magic, or a header fails to parse) passes untouched from there on.
type frameFilter struct {
	hdr    [wire.HeaderSize]byte
	nhdr   int    // header bytes collected
	body   uint32 // payload bytes left in the current frame
	drop   bool   // the current frame is being dropped
	opaque bool   // not a wire stream: pass everything
}

// filter appends to dst the bytes of p that survive; decide is asked once
// per frame whether to drop it.
func (f *frameFilter) filter(dst, p []byte, decide func(wire.Header) bool) []byte {
	for len(p) > 0 {
		switch {
		case f.opaque:
			return append(dst, p...)
		case f.body > 0:
			k := min(uint32(len(p)), f.body)
			if !f.drop {
				dst = append(dst, p[:k]...)
			}
			f.body -= k
			p = p[k:]
			continue
		}
		if f.nhdr == 0 && p[0] != wire.Magic {
			f.opaque = true // a frame must start here
			continue
		}
		k := copy(f.hdr[f.nhdr:], p)
		f.nhdr += k
		p = p[k:]
		if f.nhdr < wire.HeaderSize {
			break
		}
		f.nhdr = 0
		h, err := wire.ParseHeader(f.hdr[:], math.MaxUint32)
		if err != nil {
			f.opaque = true
			dst = append(dst, f.hdr[:]...)
			continue
		}
		f.drop, f.body = decide(h), h.Length
		if !f.drop {
			dst = append(dst, f.hdr[:]...)
		}
	}
	return dst
}
