package loadgen

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/dynamo-kv/dynamo/loadgen/report"
)

// Samples recorded concurrently by eight connections into two workers, in
// batches, merge into exactly what one histogram fed the same values holds.
func TestRecordersMergeLikeOneHistogram(t *testing.T) {
	workers := []*worker{{}, {}}
	const conns, perConn = 8, 10_000
	values := make([][]int64, conns)
	var single report.Histograms
	for c := range conns {
		r := rand.New(rand.NewPCG(uint64(c), 9))
		for range perConn {
			v := int64(1000 + r.IntN(5_000_000))
			values[c] = append(values[c], v)
			single.Record(report.Get, v)
		}
	}
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			rec := &recorder{w: workers[c%2]}
			for i, v := range values[c] {
				rec.latency(report.Get, v)
				rec.counters.OK[report.Get]++
				rec.tick(int64(i) * 1000) // flushes by age too
			}
			rec.flush(0)
		})
	}
	wg.Wait()
	h, c, _ := collect(workers)
	if c.OK[report.Get] != conns*perConn || h.Count(report.Get) != conns*perConn {
		t.Fatalf("counted %d, recorded %d", c.OK[report.Get], h.Count(report.Get))
	}
	for _, q := range []float64{1, 50, 90, 99, 99.9, 99.99, 100} {
		if a, b := single[report.Get].ValueAtQuantile(q), h[report.Get].ValueAtQuantile(q); a != b {
			t.Errorf("p%v: single %d, merged %d", q, a, b)
		}
	}
}
