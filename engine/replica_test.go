package engine

import (
	"fmt"
	"testing"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Two replicas take concurrent writes to one key, exchange records, and end
// with the same siblings; a write that read the merged context resolves
// them on both after another exchange.
func TestMergeRecordConvergesReplicas(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	if a.e.Actor() == b.e.Actor() {
		t.Fatal("two engines share an actor")
	}
	a.mustPut("k", set("from-a"))
	b.mustPut("k", set("from-b"))
	exchange := func() {
		ra, _, err := a.e.Record([]byte("k"), nil)
		if err != nil {
			t.Fatal(err)
		}
		rb, _, err := b.e.Record([]byte("k"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.e.MergeRecord([]byte("k"), rb, kv.Buffered); err != nil {
			t.Fatal(err)
		}
		if _, err := b.e.MergeRecord([]byte("k"), ra, kv.Buffered); err != nil {
			t.Fatal(err)
		}
	}
	exchange()
	for name, f := range map[string]*fixture{"a": a, "b": b} {
		if got := values(f.get("k")); len(got) != 2 || !got["from-a"] || !got["from-b"] {
			t.Fatalf("replica %s after exchange: %v", name, got)
		}
	}
	if a.get("k").CAS != b.get("k").CAS {
		t.Fatal("replicas disagree on the context after exchange")
	}
	// Merging what is already there changes nothing.
	ra, _, _ := a.e.Record([]byte("k"), nil)
	if changed, err := b.e.MergeRecord([]byte("k"), ra, kv.Buffered); err != nil || changed {
		t.Fatalf("idempotent merge: changed=%v err=%v", changed, err)
	}
	a.mustPut("k", kv.PutRequest{Value: []byte("resolved"), Context: a.get("k").Context})
	exchange()
	for name, f := range map[string]*fixture{"a": a, "b": b} {
		if got := values(f.get("k")); len(got) != 1 || !got["resolved"] {
			t.Fatalf("replica %s after resolving write: %v", name, got)
		}
	}
}

func TestMergeRecordsPure(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	a.mustPut("k", set("x"))
	b.mustPut("k", set("y"))
	ra, _, _ := a.e.Record([]byte("k"), nil)
	rb, _, _ := b.e.Record([]byte("k"), nil)
	ab, err := MergeRecords(nil, ra, rb)
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := MergeRecords(nil, rb, ra)
	if string(ab) != string(ba) {
		t.Fatal("merge is not commutative")
	}
	if again, _ := MergeRecords(nil, ab, ra); string(again) != string(ab) {
		t.Fatal("merge is not idempotent")
	}
	if one, _ := MergeRecords(nil, nil, ra); string(one) != string(ra) {
		t.Fatal("merge with nothing changed the record")
	}
	var o kv.Object
	if err := a.e.FillObject([]byte("k"), ab, &o); err != nil || len(o.Siblings) != 2 {
		t.Fatalf("FillObject: %v, %d siblings", err, len(o.Siblings))
	}
	if _, err := MergeRecords(nil, []byte{7}, ra); err == nil {
		t.Fatal("corrupt record merged")
	}
}

func TestScanHashRange(t *testing.T) {
	f := newFixture(t)
	keys := map[string]uint64{}
	for i := range 50 {
		k := fmt.Sprint("key", i)
		f.mustPut(k, set("v"))
		keys[k] = hashKey([]byte(k))
	}
	const mid = uint64(1) << 63
	count := func(lo, hi uint64) map[string]bool {
		got := map[string]bool{}
		if err := f.e.ScanHashRange(lo, hi, func(k, rec []byte) bool {
			got[string(k)] = true
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	low, high := count(0, mid), count(mid, 0)
	if len(low)+len(high) != len(keys) {
		t.Fatalf("halves hold %d + %d keys, want %d", len(low), len(high), len(keys))
	}
	for k, h := range keys {
		if (h < mid) != low[k] || (h >= mid) != high[k] {
			t.Fatalf("key %s (hash %x) in the wrong half", k, h)
		}
	}
}
