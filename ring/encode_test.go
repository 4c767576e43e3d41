package ring

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"testing"
)

// tinyRing is a hand-placed ring whose encoding is written out below, so
// the format cannot drift unnoticed.
func tinyRing() *Ring {
	ms := []Member{{ID: "a", Zone: "x", Weight: 1}, {ID: "b", Zone: "y", Weight: 2}, {ID: "c", Zone: "x", Weight: 0.5}}
	return assemble(Config{Partitions: 8, Replicas: 2}, ms, []uint16{0, 1, 2, 0, 1, 2, 0, 1}, 7, nil)
}

func TestEncodingFormat(t *testing.T) {
	body := "44524e47" + "01" + "03" + "02" + "07" + // magic, format 1, log2 Q = 3, N = 2, version 7
		"02" + "0178" + "0179" + // zones "x", "y"
		"03" + // three members
		"0161" + "00" + "000000000000f03f" + // "a", zone x, weight 1
		"0162" + "01" + "0000000000000040" + // "b", zone y, weight 2
		"0163" + "00" + "000000000000e03f" + // "c", zone x, weight 0.5
		"2449" // owners 0 1 2 0 | 1 2 0 1, two bits each, low bits first
	want, _ := hex.DecodeString(body)
	want = binary.LittleEndian.AppendUint32(want, crc32.Checksum(want, castagnoli))
	got := tinyRing().Encode()
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding\n got %x\nwant %x", got, want)
	}
	if hex.EncodeToString(got[len(got)-4:]) != "2a72332b" {
		t.Fatalf("checksum %x changed", got[len(got)-4:])
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rings := []*Ring{tinyRing(), mustNew(t, Config{Partitions: 1}, equalMembers(1, 0))}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, q := range []int{2, 64, 1024, 65536} {
		for _, n := range []int{1, 2, 7, 300} {
			if n <= q {
				rings = append(rings, mustNew(t, Config{Partitions: q, Replicas: 1 + rng.IntN(4)}, randomMembers(rng, n, rng.IntN(4), "m")))
			}
		}
	}
	for _, r := range rings {
		enc := r.Encode()
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("Q=%d members=%d: %v", r.Partitions(), r.Len(), err)
		}
		if !back.Equal(r) || !bytes.Equal(back.Encode(), enc) || back.Version() != r.Version() || back.Config() != r.Config() {
			t.Fatalf("Q=%d members=%d: round trip differs", r.Partitions(), r.Len())
		}
		if a, b := r.Owners(), back.Owners(); !equalStrings(a, b) {
			t.Fatalf("owners differ")
		}
		if len(r.AppendEncode([]byte("x"))) != len(enc)+1 {
			t.Fatal("AppendEncode length")
		}
		enc[0] ^= 0xff // Encode hands out a copy
		if bytes.Equal(r.Encode(), enc) {
			t.Fatal("Encode returned the ring's own buffer")
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecodeRejectsDamage(t *testing.T) {
	enc := mustNew(t, Config{Partitions: 64}, equalMembers(5, 2)).Encode()
	for i := range enc {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(enc)
			bad[i] ^= flip
			if _, err := Decode(bad); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormat) {
				t.Fatalf("byte %d ^ %#x: Decode = %v", i, flip, err)
			}
		}
	}
	for n := range len(enc) {
		if _, err := Decode(enc[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: Decode = %v", n, err)
		}
	}
	if _, err := Decode(append(bytes.Clone(enc), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: Decode = %v", err)
	}
}

// sealed appends the checksum to a hand-written body, so the test reaches
// the parser's own checks.
func sealed(body string) []byte {
	b, err := hex.DecodeString(body)
	if err != nil {
		panic(err)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func TestDecodeRejectsMalformed(t *testing.T) {
	const head, head2 = "44524e47" + "01", "44524e47" + "02"
	one := "01" + "0161" + "00" + "000000000000f03f" // one member "a" in zone 0, weight 1
	nan := hex.EncodeToString(binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN())))
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"future format", sealed("44524e47" + "03" + "0003" + "01" + "0100" + one), ErrFormat},
		{"bad magic", sealed("44524e48" + "01" + "0003" + "01" + "0100" + one), ErrCorrupt},
		{"too many partition bits", sealed(head + "11" + "03" + "01" + "0100" + one), ErrCorrupt},
		{"zero replicas", sealed(head + "00" + "00" + "01" + "0100" + one), ErrCorrupt},
		{"replicas over limit", sealed(head + "00" + "11" + "01" + "0100" + one), ErrCorrupt},
		{"no members", sealed(head + "00" + "03" + "01" + "00" + "00"), ErrCorrupt},
		{"member without zones", sealed(head + "00" + "03" + "01" + "00" + one), ErrCorrupt},
		{"zone index out of range", sealed(head + "00" + "03" + "01" + "0100" + "01" + "0161" + "01" + "000000000000f03f"), ErrCorrupt},
		{"unused zone", sealed(head + "00" + "03" + "01" + "02" + "00" + "0178" + one), ErrCorrupt},
		{"zones unsorted", sealed(head + "01" + "03" + "01" + "02" + "0179" + "0178" + "02" + "0161" + "00" + "000000000000f03f" + "0162" + "01" + "000000000000f03f" + "02"), ErrCorrupt},
		{"members unsorted", sealed(head + "01" + "03" + "01" + "0100" + "02" + "0162" + "00" + "000000000000f03f" + "0161" + "00" + "000000000000f03f" + "02"), ErrCorrupt},
		{"duplicate member", sealed(head + "01" + "03" + "01" + "0100" + "02" + "0161" + "00" + "000000000000f03f" + "0161" + "00" + "000000000000f03f" + "02"), ErrCorrupt},
		{"more members than partitions", sealed(head + "00" + "03" + "01" + "0100" + "02" + "0161" + "00" + "000000000000f03f" + "0162" + "00" + "000000000000f03f" + "00"), ErrCorrupt},
		{"empty ID", sealed(head + "00" + "03" + "01" + "0100" + "01" + "00" + "00" + "000000000000f03f"), ErrCorrupt},
		{"zero weight", sealed(head + "00" + "03" + "01" + "0100" + "01" + "0161" + "00" + "0000000000000000"), ErrCorrupt},
		{"NaN weight", sealed(head + "00" + "03" + "01" + "0100" + "01" + "0161" + "00" + nan), ErrCorrupt},
		{"owner out of range", sealed(head + "02" + "03" + "01" + "0100" + "03" + "0161" + "00" + "000000000000f03f" + "0162" + "00" + "000000000000f03f" + "0163" + "00" + "000000000000f03f" + "2403"), ErrCorrupt},
		{"owner padding bits set", sealed(head + "01" + "03" + "01" + "0100" + "02" + "0161" + "00" + "000000000000f03f" + "0162" + "00" + "000000000000f03f" + "06"), ErrCorrupt},
		{"non-minimal varint", sealed(head + "00" + "03" + "8100" + "0100" + one), ErrCorrupt},
		{"trailing byte", sealed(head + "00" + "03" + "01" + "0100" + one + "00"), ErrCorrupt},
		{"huge member count", sealed(head + "00" + "03" + "01" + "0100" + "ffffffff0f"), ErrCorrupt},
		{"format 2 without removed IDs", sealed(head2 + "00" + "03" + "01" + "0100" + one + "00"), ErrCorrupt},
		{"format 2 missing its removed IDs", sealed(head2 + "00" + "03" + "01" + "0100" + one), ErrCorrupt},
		{"removed ID is a member", sealed(head2 + "00" + "03" + "01" + "0100" + one + "01" + "0161"), ErrCorrupt},
		{"removed IDs unsorted", sealed(head2 + "00" + "03" + "01" + "0100" + one + "02" + "0163" + "0162"), ErrCorrupt},
		{"empty removed ID", sealed(head2 + "00" + "03" + "01" + "0100" + one + "01" + "00"), ErrCorrupt},
		{"removed IDs in format 1", sealed(head + "00" + "03" + "01" + "0100" + one + "01" + "0162"), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := Decode(tt.data); !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, %v; want %v", r, err, tt.want)
			}
		})
	}
	// The well-formed neighbour of these cases decodes.
	if _, err := Decode(sealed(head + "00" + "03" + "01" + "0100" + one)); err != nil {
		t.Fatalf("one-member ring: %v", err)
	}
	r, err := Decode(sealed(head2 + "00" + "03" + "01" + "0100" + one + "02" + "0162" + "0163"))
	if err != nil || !r.Removed("b") || !r.Removed("c") || r.Removed("a") {
		t.Fatalf("one-member ring with b and c removed: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(tinyRing().Encode())
	if r, err := tinyRing().Remove(tinyRing().Members(), "z"); err == nil {
		f.Add(r.Encode())
	}
	f.Add(mustNew(f, Config{Partitions: 64}, equalMembers(5, 2)).Encode())
	f.Add([]byte("DRNG\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, data)
	})
}

// FuzzDecodeBody seals whatever it gets with a valid checksum, so the
// fuzzer explores the parser rather than the CRC.
func FuzzDecodeBody(f *testing.F) {
	removed, err := tinyRing().Remove(tinyRing().Members(), "z", "y")
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range []*Ring{tinyRing(), mustNew(f, Config{Partitions: 16, Replicas: 2}, equalMembers(3, 3)), removed} {
		enc := r.Encode()
		f.Add(enc[:len(enc)-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		data := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		checkDecoded(t, data)
	})
}

func checkDecoded(t *testing.T, data []byte) {
	r, err := Decode(data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormat) {
			t.Fatalf("Decode error %v is neither ErrCorrupt nor ErrFormat", err)
		}
		return
	}
	if !bytes.Equal(r.Encode(), data) {
		t.Fatalf("accepted a non-canonical encoding %x (re-encodes as %x)", data, r.Encode())
	}
	for p := 0; p < r.Partitions(); p += max(1, r.Partitions()/256) {
		list, err := r.PreferenceList(p, min(r.Len(), r.Config().Replicas), nil)
		if err != nil || len(list) == 0 || list[0] != r.Owner(p) {
			t.Fatalf("partition %d: %v, %v", p, list, err)
		}
	}
}
