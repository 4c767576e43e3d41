package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       Header
		payload []byte
	}{
		{"empty request", Header{Type: 1, ID: 1}, nil},
		{"small request", Header{Type: 239, ID: 1 << 40}, []byte("hello")},
		{"response", Header{Type: 9, Flags: FlagResponse, ID: ^uint64(0)}, bytes.Repeat([]byte{0xAB}, 1000)},
		{"error response", Header{Type: 9, Flags: FlagResponse | FlagError, ID: 7}, []byte{0, 0, 'x'}},
		{"ping", Header{Type: TypePing, ID: 3}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("prefix")
			frame := AppendFrame(bytes.Clone(prefix), tc.h, tc.payload)
			if !bytes.Equal(frame[:len(prefix)], prefix) {
				t.Fatal("AppendFrame changed dst's existing bytes")
			}
			frame = frame[len(prefix):]
			if len(frame) != HeaderSize+len(tc.payload) {
				t.Fatalf("frame is %d bytes", len(frame))
			}
			h, err := ParseHeader(frame, DefaultMaxPayload)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.h
			want.Version, want.Length, want.Checksum = Version, uint32(len(tc.payload)), h.Checksum
			if h != want {
				t.Fatalf("parsed %v, want %v", h, want)
			}
			if err := h.Verify(frame[:HeaderSize], frame[HeaderSize:]); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseHeaderRejects(t *testing.T) {
	good := AppendFrame(nil, Header{Type: 5, ID: 9}, []byte("payload"))
	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		max   uint32
		want  error
	}{
		{"short", good[:HeaderSize-1], 100, ErrMalformed},
		{"magic", mutate(func(b []byte) { b[offMagic] = 'g' }), 100, ErrMalformed},
		{"version 0", mutate(func(b []byte) { b[offVersion] = 0 }), 100, ErrVersion},
		{"future version", mutate(func(b []byte) { b[offVersion] = Version + 1 }), 100, ErrVersion},
		{"unknown flag", mutate(func(b []byte) { b[offFlags] = 0x80 }), 100, ErrMalformed},
		{"error without response", mutate(func(b []byte) { b[offFlags] = byte(FlagError) }), 100, ErrMalformed},
		{"type 0", mutate(func(b []byte) { b[offType] = 0 }), 100, ErrMalformed},
		{"over limit", good, 6, ErrFrameTooLarge},
		{"huge length", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[offLength:], 1<<31) }), DefaultMaxPayload, ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseHeader(tc.frame, tc.max); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := ParseHeader(good, 7); err != nil {
		t.Fatalf("payload at exactly the limit: %v", err)
	}
}

func TestVerifyCatchesEveryBitFlip(t *testing.T) {
	good := AppendFrame(nil, Header{Type: 5, ID: 9}, []byte("payload"))
	for i := range len(good) * 8 {
		if i/8 >= offChecksum && i/8 < HeaderSize {
			continue // flipping the checksum itself is caught the same way
		}
		b := bytes.Clone(good)
		b[i/8] ^= 1 << (i % 8)
		h, err := ParseHeader(b, 1<<20)
		if err != nil {
			continue // rejected by the header checks
		}
		if int(h.Length) != len(b)-HeaderSize {
			continue // a length change misframes the stream: caught later
		}
		if err := h.Verify(b[:HeaderSize], b[HeaderSize:]); !errors.Is(err, ErrChecksum) {
			t.Fatalf("bit %d flipped: Verify returned %v", i, err)
		}
	}
}

func TestTypeSet(t *testing.T) {
	s := NewTypeSet(1, 63, 64, 200)
	for typ := range 256 {
		want := typ == 1 || typ == 63 || typ == 64 || typ == 200
		if got := s.Has(MsgType(typ)); got != want {
			t.Errorf("Has(%d) = %v", typ, got)
		}
	}
	if s.Empty() || !new(TypeSet).Empty() {
		t.Error("Empty is wrong")
	}
	for _, reserved := range []MsgType{0, FirstReservedType, TypePing} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewTypeSet(%d) did not panic", reserved)
				}
			}()
			NewTypeSet(reserved)
		}()
	}
}
