package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// BenchmarkPutGet measures a coordinator's hot path over loopback: a
// write acknowledged by W=2 of 3 replicas, and a read answered by R
// replicas (2, and 1 from the coordinator's own copy with digest repair).
func BenchmarkPutGet(b *testing.B) {
	c := newTestCluster(b, 3, Options{N: 3, R: 2, W: 2})
	keys := make([][]byte, 64)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "bench-%d", i)
	}
	top, _ := c.owners(string(keys[0]), 1)
	coord := c.nodes[top[0]].node
	req := kv.PutRequest{Value: make([]byte, 100), SupersedeAll: true}
	b.Run("put", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := coord.Put(keys[i%len(keys)], &req); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	for _, r := range []int{2, 1} {
		b.Run(fmt.Sprintf("get-R%d", r), func(b *testing.B) {
			b.ReportAllocs()
			var o kv.Object
			i := 0
			for b.Loop() {
				if err := coord.Get(keys[i%len(keys)], &o, kv.ReadOptions{R: r}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkHandOff prices ownership handoff per record, the two ways a
// record goes (handoff.go's heldCost is their ratio): "held", every owner
// already holds it (the common case after a join: the new owners pulled
// it), so it is checked against the owners' trees and dropped; "sent",
// the owners lack it, so it is pushed to each of them (two here) and then
// dropped. A node of three leaves a ring of 64 partitions holding 20,000
// records of 1 KB: about 5 a segment, a third of bench-join's 15 at
// 1,000,000 keys on 1,024 partitions.
func BenchmarkHandOff(b *testing.B) {
	const records = 20000
	for _, held := range []bool{true, false} {
		name := map[bool]string{true: "held", false: "sent"}[held]
		b.Run(name, func(b *testing.B) {
			var spent time.Duration
			b.StopTimer()
			for range b.N {
				c := newTestCluster(b, 3, Options{N: 3, R: 1, W: 3, HandoffBatch: 1 << 20, TransferRate: 1 << 24, BackgroundUnthrottled: true})
				x := c.nodes[0]
				req := kv.PutRequest{Value: make([]byte, 1000), SupersedeAll: true}
				for i := range records {
					key := fmt.Appendf(nil, "key-%d", i)
					if _, err := x.eng.Put(key, &req); err != nil {
						b.Fatal(err)
					}
					if !held {
						continue // this node's copy only
					}
					rec, _, err := x.eng.Record(key, nil)
					for _, tn := range c.nodes[1:] {
						if err == nil {
							_, err = tn.eng.MergeRecord(key, rec, kv.DurabilityDefault)
						}
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				c.leaveRing(0)
				for i, tn := range c.nodes {
					if i > 0 {
						tn.node.skipCatchUp() // no pulls: handoff alone moves the records
					}
					for p := range 64 { // every tree kept, as anti-entropy keeps them
						lo, hi := c.topo.Load().Ring.PartitionRange(p)
						if _, _, err := tn.eng.PartitionTree(lo, hi); err != nil {
							b.Fatal(err)
						}
					}
				}
				start := time.Now()
				b.StartTimer()
				for moved := 0; moved < records; {
					n := x.node.HandOff()
					if n == 0 {
						b.Fatalf("a round moved nothing, %d of %d moved", moved, records)
					}
					moved += n
				}
				b.StopTimer()
				spent += time.Since(start)
				c.close()
			}
			b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N*records), "ns/record")
		})
	}
}
