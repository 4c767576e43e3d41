package record

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/dynamo-kv/dynamo/engine/dvv"
)

func sample() *Record {
	return &Record{
		Clock: dvv.Clock{{Actor: 1, Counter: 3}, {Actor: 9, Counter: 1}},
		Siblings: []Sibling{
			{Dot: dvv.Dot{Actor: 1, Counter: 3}, Timestamp: 77, Flags: 1<<32 - 1, Expires: -1, Value: []byte("hello")},
			{Dot: dvv.Dot{Actor: 9, Counter: 1}, Timestamp: 78, Deleted: true},
		},
	}
}

// sampleV2 has what only format 2 holds: a cas origin and a counter.
func sampleV2() *Record {
	r := sample()
	r.Clock = dvv.Clock{{Actor: 1, Counter: 3}, {Actor: 5, Counter: 700}, {Actor: 9, Counter: 1}}
	r.Siblings[0].Origin = dvv.Dot{Actor: 5, Counter: 2}
	r.Siblings = append(r.Siblings[:1], Sibling{
		Dot: dvv.Dot{Actor: 5, Counter: 700}, Timestamp: 80, Flags: 7,
		Counter: &Counter{Base: 41, BaseDot: dvv.Dot{Actor: 1, Counter: 2}, Width: 3,
			Entries: []CounterEntry{{Actor: 1, Inc: 10, Dec: 2}, {Actor: 5, Inc: 1}}},
	}, r.Siblings[1])
	return r
}

// TestReadsFormat1 decodes a record in the first format, which had no
// origin and no counters.
func TestReadsFormat1(t *testing.T) {
	// format 1, clock {1:3}, one sibling: dot (1,3), ts 77, flags 5, no
	// expiry, a value "hi".
	// The timestamp is 1,700,000,000,000 ms << 16 | 77, as format 1 wrote.
	ts := binary.AppendUvarint(nil, 1_700_000_000_000<<16|77)
	b := append([]byte{1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 3}, ts...)
	b = append(b, 5, 0, 0, 2, 'h', 'i')
	var r Record
	if err := Decode(&r, b); err != nil {
		t.Fatal(err)
	}
	s := r.Siblings[0]
	if len(r.Siblings) != 1 || string(s.Value) != "hi" || s.Flags != 5 || s.CASOrigin() != s.Dot {
		t.Fatalf("decoded %+v", r)
	}
	// In format 2's microseconds and 12-bit counter, so old data orders
	// before new.
	if want := uint64(1_700_000_000_000_000)<<12 | 77; s.Timestamp != want {
		t.Fatalf("timestamp %d, want %d", s.Timestamp, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, r := range []*Record{{}, sample(), sampleV2()} {
		b := Append(nil, r)
		var got Record
		if err := Decode(&got, b); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if again := Append(nil, &got); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Append(nil, sample())
	uncovered := sample()
	uncovered.Siblings[0].Dot.Counter = 4 // clock says 3
	unsorted := sample()
	unsorted.Siblings[0], unsorted.Siblings[1] = unsorted.Siblings[1], unsorted.Siblings[0]
	cases := map[string][]byte{
		"empty":           nil,
		"bad format":      append([]byte{3}, good[1:]...),
		"truncated":       good[:len(good)-1],
		"trailing":        append(bytes.Clone(good), 0),
		"uncovered dot":   Append(nil, uncovered),
		"unsorted":        Append(nil, unsorted),
		"truncated value": good[:len(good)-3],
	}
	for name, b := range cases {
		var r Record
		if err := Decode(&r, b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Append(nil, sample()))
	f.Add(Append(nil, sampleV2()))
	f.Add(Append(nil, &Record{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if Decode(&r, b) != nil {
			return
		}
		// Varints may arrive in overlong form; what matters is that the
		// canonical re-encoding decodes to the same record.
		again := Append(nil, &r)
		var r2 Record
		if err := Decode(&r2, again); err != nil {
			t.Fatalf("re-encoding of accepted %x does not decode: %v", b, err)
		}
		if third := Append(nil, &r2); !bytes.Equal(third, again) {
			t.Fatalf("encoding not stable: %x vs %x", again, third)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	enc := Append(nil, sample())
	var r Record
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(&r, enc); err != nil {
			b.Fatal(err)
		}
	}
}
