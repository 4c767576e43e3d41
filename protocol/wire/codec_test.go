package wire

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// field is one encoded value of a random payload, for round-trip tests.
type field struct {
	kind int // 0 uvarint, 1 u8, 2 u16, 3 u32, 4 u64, 5 bytes, 6 string
	u    uint64
	b    []byte
}

func (f field) append(dst []byte) []byte {
	switch f.kind {
	case 0:
		return AppendUvarint(dst, f.u)
	case 1:
		return AppendUint8(dst, uint8(f.u))
	case 2:
		return AppendUint16(dst, uint16(f.u))
	case 3:
		return AppendUint32(dst, uint32(f.u))
	case 4:
		return AppendUint64(dst, f.u)
	case 5:
		return AppendBytes(dst, f.b)
	default:
		return AppendString(dst, string(f.b))
	}
}

// check decodes the field from d and reports whether it matched.
func (f field) check(d *Decoder) bool {
	switch f.kind {
	case 0:
		return d.Uvarint() == f.u
	case 1:
		return d.Uint8() == uint8(f.u)
	case 2:
		return d.Uint16() == uint16(f.u)
	case 3:
		return d.Uint32() == uint32(f.u)
	case 4:
		return d.Uint64() == f.u
	case 5:
		return bytes.Equal(d.Bytes(), f.b)
	default:
		return d.Text() == string(f.b)
	}
}

func randomFields(rng *rand.Rand) []field {
	fields := make([]field, rng.IntN(12))
	for i := range fields {
		f := field{kind: rng.IntN(7), u: rng.Uint64() >> rng.IntN(64)}
		f.b = make([]byte, rng.IntN(300))
		for j := range f.b {
			f.b[j] = byte(rng.IntN(256))
		}
		fields[i] = f
	}
	return fields
}

func TestCodecRoundTripAndTruncation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		fields := randomFields(rng)
		var p []byte
		for _, f := range fields {
			p = f.append(p)
		}
		d := NewDecoder(p)
		for i, f := range fields {
			if !f.check(&d) {
				t.Fatalf("field %d (kind %d) did not round-trip: %v", i, f.kind, d.Err())
			}
		}
		if err := d.Finish(); err != nil {
			t.Fatal(err)
		}
		// Every strict prefix must fail cleanly somewhere.
		if len(p) == 0 {
			continue
		}
		cut := rng.IntN(len(p))
		d = NewDecoder(p[:cut])
		for _, f := range fields {
			f.check(&d)
		}
		if err := d.Finish(); !errors.Is(err, ErrMalformed) {
			t.Fatalf("payload cut at %d/%d: Finish returned %v", cut, len(p), err)
		}
	}
}

func TestDecoderHostileInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		read func(d *Decoder)
	}{
		{"empty uint8", nil, func(d *Decoder) { d.Uint8() }},
		{"short uint16", []byte{1}, func(d *Decoder) { d.Uint16() }},
		{"short uint32", []byte{1, 2, 3}, func(d *Decoder) { d.Uint32() }},
		{"short uint64", []byte{1, 2, 3, 4, 5, 6, 7}, func(d *Decoder) { d.Uint64() }},
		{"truncated uvarint", []byte{0x80, 0x80}, func(d *Decoder) { d.Uvarint() }},
		{"overlong uvarint", bytes.Repeat([]byte{0xFF}, 11), func(d *Decoder) { d.Uvarint() }},
		{"length past end", AppendUvarint(nil, 5), func(d *Decoder) { d.Bytes() }},
		{"huge length", AppendUvarint(nil, math.MaxUint64), func(d *Decoder) { d.Bytes() }},
		{"length over int32", AppendUvarint(nil, 1<<40), func(d *Decoder) { _ = d.Text() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.in)
			tc.read(&d)
			first := d.Err()
			if !errors.Is(first, ErrMalformed) {
				t.Fatalf("Err = %v", first)
			}
			// Latched: later reads return zero values and keep the first error.
			if d.Uint64() != 0 || d.Uvarint() != 0 || d.Bytes() != nil || d.Remaining() != 0 {
				t.Fatal("reads after an error returned data")
			}
			if d.Err() != first || d.Finish() != first {
				t.Fatal("the first error was not kept")
			}
		})
	}
}

func TestDecoderBytesCannotOverwritePayload(t *testing.T) {
	p := AppendBytes(nil, []byte("ab"))
	p = AppendUint8(p, 'z')
	d := NewDecoder(p)
	b := d.Bytes()
	_ = append(b, 'X')
	if d.Uint8() != 'z' {
		t.Fatal("appending to a decoded slice overwrote the payload")
	}
}

func TestDecoderFinishRejectsTrailingBytes(t *testing.T) {
	d := NewDecoder([]byte{1, 2})
	d.Uint8()
	if err := d.Finish(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Finish = %v", err)
	}
}

func TestCodecAllocations(t *testing.T) {
	buf := make([]byte, 0, 256)
	key, value := []byte("user:1234"), bytes.Repeat([]byte("v"), 100)
	allocs := testing.AllocsPerRun(100, func() {
		p := AppendUvarint(buf[:0], 42)
		p = AppendUint64(p, 1<<60)
		p = AppendBytes(p, key)
		p = AppendBytes(p, value)
		d := NewDecoder(p)
		_, _, _, _ = d.Uvarint(), d.Uint64(), d.Bytes(), d.Bytes()
		if d.Finish() != nil {
			panic("decode failed")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per encode+decode", allocs)
	}
}
