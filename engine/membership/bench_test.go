package membership

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkView is the per-request cost for the coordinator.
func BenchmarkView(b *testing.B) {
	c := newCluster(b, true)
	a := c.node("a")
	b.ReportAllocs()
	var v *View
	for b.Loop() {
		v = a.View()
	}
	_ = v
}

// BenchmarkFormCluster measures forming a cluster: n nodes started one
// after another with the first as seed, until all hold one ring with
// everyone and advertise it.
func BenchmarkFormCluster(b *testing.B) {
	for _, tc := range []struct {
		n   int
		mem bool
	}{{3, true}, {3, false}, {8, true}} {
		transport := "sockets"
		if tc.mem {
			transport = "memnet"
		}
		b.Run(fmt.Sprintf("%s/nodes=%d", transport, tc.n), func(b *testing.B) {
			for b.Loop() {
				c := newCluster(b, tc.mem)
				nodes := []*Membership{c.node("n0")}
				ids := []string{"n0"}
				for i := 1; i < tc.n; i++ {
					ids = append(ids, fmt.Sprintf("n%d", i))
					nodes = append(nodes, c.node(ids[i], nodes[0]))
				}
				waitConverged(b, ids, nodes...)
				b.StopTimer()
				c.shutdownAll()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkSpreadJoin measures how long a join takes to reach every node:
// from starting a new node until all nodes hold the ring with it.
func BenchmarkSpreadJoin(b *testing.B) {
	c := newCluster(b, true)
	nodes := []*Membership{c.node("n0")}
	ids := []string{"n0"}
	for i := 1; i < 5; i++ {
		ids = append(ids, fmt.Sprintf("n%d", i))
		nodes = append(nodes, c.node(ids[i], nodes[0]))
	}
	waitConverged(b, ids, nodes...)
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("j%d", i)
		n := c.node(id, nodes[i%len(nodes)])
		waitConverged(b, append(ids, id), append(nodes, n)...)
		b.StopTimer()
		if err := n.Leave(ctxWithin(b, convergeWithin)); err != nil {
			b.Fatal(err)
		}
		waitConverged(b, ids, nodes...)
		_ = n.Shutdown()
		b.StartTimer()
	}
}

// BenchmarkDetectFailure measures, with TestTiming, how long after a crash
// every other node marks the node not alive.
func BenchmarkDetectFailure(b *testing.B) {
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		c := newCluster(b, true)
		nodes := []*Membership{c.node("n0")}
		ids := []string{"n0"}
		for i := 1; i < 4; i++ {
			ids = append(ids, fmt.Sprintf("n%d", i))
			nodes = append(nodes, c.node(ids[i], nodes[0]))
		}
		waitConverged(b, ids, nodes...)
		b.StartTimer()
		start := time.Now()
		c.crash(nodes[3])
		waitFor(b, detectWithin, func() string { return describe(nodes[:3]) }, func() bool {
			for _, n := range nodes[:3] {
				if n.View().Alive("n3") {
					return false
				}
			}
			return true
		})
		total += time.Since(start)
		b.StopTimer()
		c.shutdownAll()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-detect")
}
