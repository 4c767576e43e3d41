package cluster

import (
	"fmt"
	"testing"

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
