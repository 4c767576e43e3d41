package engine

import (
	"fmt"
	"testing"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// BenchmarkDropRecordIf: what handoff pays per record it lets go of once
// every owner holds it (the common case late in a join, hundreds of
// thousands of records per old owner), on Pebble with the partition
// trees kept as on a cluster node and no hint held.
func BenchmarkDropRecordIf(b *testing.B) {
	e, err := Open(Options{Dir: b.TempDir(), Replicated: true, Durability: kv.Buffered})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const chunk = 1000
	keys := make([][]byte, chunk)
	recs := make([][]byte, chunk)
	value := make([]byte, 1000)
	fill := func(round int) {
		for i := range keys {
			keys[i] = fmt.Appendf(keys[i][:0], "key:%d:%d", round, i)
			if _, err := e.Put(keys[i], &kv.PutRequest{Value: value, SupersedeAll: true}); err != nil {
				b.Fatal(err)
			}
			rec, found, err := e.Record(keys[i], recs[i][:0])
			if err != nil || !found {
				b.Fatal(err, found)
			}
			recs[i] = rec
		}
	}
	for p := range 64 { // every tree kept, as a node's anti-entropy asks for them
		lo := uint64(p) << 58
		if _, _, err := e.PartitionTree(lo, lo+1<<58); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.StopTimer()
	for round := 0; round*chunk < b.N; round++ {
		fill(round)
		b.StartTimer()
		for i := range min(chunk, b.N-round*chunk) {
			if dropped, err := e.DropRecordIf(keys[i], recs[i]); err != nil || !dropped {
				b.Fatal(err, dropped)
			}
		}
		b.StopTimer()
	}
}
