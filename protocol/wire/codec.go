package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Payload encoding helpers. Encoders append to a caller-owned slice, so a
// reused buffer makes encoding allocation-free. Fixed-width integers are
// little-endian; lengths are uvarints.

// AppendUvarint appends v as an unsigned varint (1 to 10 bytes).
func AppendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }

// AppendUint8 appends v.
func AppendUint8(dst []byte, v uint8) []byte { return append(dst, v) }

// AppendUint16 appends v in 2 bytes.
func AppendUint16(dst []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(dst, v) }

// AppendUint32 appends v in 4 bytes.
func AppendUint32(dst []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(dst, v) }

// AppendUint64 appends v in 8 bytes.
func AppendUint64(dst []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(dst, v) }

// AppendBytes appends b prefixed with its length as a uvarint.
func AppendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

// AppendString appends s prefixed with its length as a uvarint.
func AppendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// Decoder reads fields from a payload. It never panics and never reads out
// of bounds: the first failure is latched in Err, after which every method
// returns zero values, so a caller decodes all fields and checks Err once.
// The zero Decoder is an empty payload.
type Decoder struct {
	buf []byte
	off int
	err error
}

// NewDecoder returns a Decoder over p. Bytes returns slices of p.
func NewDecoder(p []byte) Decoder { return Decoder{buf: p} }

// Err returns the first decoding error, wrapping ErrMalformed, or nil.
func (d *Decoder) Err() error { return d.err }

// Remaining returns the number of bytes not yet read.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Finish returns Err, or an error if bytes remain unread: a payload with
// trailing bytes is malformed.
func (d *Decoder) Finish() error {
	if d.err == nil && d.off != len(d.buf) {
		d.fail("%d trailing bytes", len(d.buf)-d.off)
	}
	return d.err
}

// Fail latches a decoding error the caller found (a count larger than the
// payload could hold), as the Decoder's own are.
func (d *Decoder) Fail(format string, args ...any) { d.fail(format, args...) }

func (d *Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: payload at offset %d: %s", ErrMalformed, d.off, fmt.Sprintf(format, args...))
	}
	d.off = len(d.buf)
}

// take returns the next n bytes, or nil after latching an error.
func (d *Decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.buf)-d.off {
		d.fail("%s needs %d bytes, %d left", what, n, len(d.buf)-d.off)
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail("truncated uvarint")
		} else {
			d.fail("uvarint overflows 64 bits")
		}
		return 0
	}
	d.off += n
	return v
}

// Uint8 reads one byte.
func (d *Decoder) Uint8() uint8 {
	if b := d.take(1, "uint8"); b != nil {
		return b[0]
	}
	return 0
}

// Uint16 reads a 2-byte integer.
func (d *Decoder) Uint16() uint16 {
	if b := d.take(2, "uint16"); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

// Uint32 reads a 4-byte integer.
func (d *Decoder) Uint32() uint32 {
	if b := d.take(4, "uint32"); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// Uint64 reads an 8-byte integer.
func (d *Decoder) Uint64() uint64 {
	if b := d.take(8, "uint64"); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Bytes reads a length-prefixed byte string. The result aliases the
// payload (its capacity is cut to its length, so appending to it cannot
// overwrite the payload); copy it to keep it past the payload's lifetime.
// An empty string decodes as a non-nil empty slice only if the payload is.
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if n > math.MaxInt32 {
		d.fail("length %d", n)
		return nil
	}
	return d.take(int(n), "bytes")
}

// Text reads a length-prefixed string (as AppendString writes it), copying
// it. It is not called String so that a Decoder is no fmt.Stringer: printing
// one must not consume it.
func (d *Decoder) Text() string { return string(d.Bytes()) }
