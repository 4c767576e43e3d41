package record

import (
	"bytes"
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

func TestRoundTrip(t *testing.T) {
	for _, r := range []*Record{{}, sample()} {
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
		"bad format":      append([]byte{2}, good[1:]...),
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
