package membership

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
)

// Generous bounds: the machine running the tests may be a loaded 2-core
// box under the race detector. Convergence itself takes milliseconds with
// TestTiming; failure detection about a second.
const (
	convergeWithin = 30 * time.Second
	detectWithin   = 30 * time.Second
)

// cluster runs nodes in one test process, over real loopback sockets or
// over a memNet.
type cluster struct {
	t      testing.TB
	net    *memNet // nil: sockets on 127.0.0.1
	timing Timing
	ring   ring.Config
	logs   *syncBuffer

	mu    sync.Mutex
	nodes map[string]*Membership
}

func newCluster(t testing.TB, mem bool) *cluster {
	c := &cluster{t: t, timing: TestTiming(), ring: smallRing, logs: &syncBuffer{}, nodes: map[string]*Membership{}}
	if mem {
		c.net = newMemNet()
	}
	t.Cleanup(func() {
		c.shutdownAll()
		if t.Failed() {
			t.Logf("node logs:\n%s", c.logs.String())
		}
	})
	return c
}

// shutdownAll shuts every node down, in parallel.
func (c *cluster) shutdownAll() {
	c.mu.Lock()
	nodes := slices.Collect(maps.Values(c.nodes))
	clear(c.nodes)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range nodes {
		wg.Go(func() { _ = m.Shutdown() })
	}
	wg.Wait()
}

// config is a node's Config in this cluster. gossipAddr "" picks a fresh
// address.
func (c *cluster) config(id, gossipAddr string, seeds ...string) Config {
	cfg := Config{
		NodeID:        id,
		InternodeAddr: "127.0.0.1:7" + id,
		ClientAddr:    "127.0.0.1:11" + id,
		Seeds:         seeds,
		Ring:          c.ring,
		Timing:        c.timing,
		Logger:        slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if c.net != nil {
		cfg.Transport = c.net.transport(gossipAddr)
	} else {
		cfg.GossipAddr = "127.0.0.1:0"
		if gossipAddr != "" {
			cfg.GossipAddr = gossipAddr
		}
	}
	return cfg
}

func (c *cluster) start(cfg Config) *Membership {
	c.t.Helper()
	m, err := Start(cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", cfg.NodeID, err)
	}
	c.mu.Lock()
	c.nodes[cfg.NodeID] = m
	c.mu.Unlock()
	return m
}

// node starts id, joining the given seed nodes.
func (c *cluster) node(id string, seeds ...*Membership) *Membership {
	c.t.Helper()
	var addrs []string
	for _, s := range seeds {
		addrs = append(addrs, s.GossipAddr())
	}
	return c.start(c.config(id, "", addrs...))
}

// crash stops m without telling gossip, as a killed process would.
func (c *cluster) crash(m *Membership) {
	c.t.Helper()
	if err := m.halt(false); err != nil {
		c.t.Fatalf("crash %s: %v", m.self, err)
	}
}

// waitFor polls cond every 10 ms until it holds or the bound passes.
func waitFor(t testing.TB, within time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what())
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronization
	}
}

// waitConverged waits until every node holds one ring whose members are
// exactly members, sees every other node alive, and sees every other node
// advertise that ring.
func waitConverged(t testing.TB, members []string, nodes ...*Membership) *ring.Ring {
	t.Helper()
	members = slices.Sorted(slices.Values(members))
	waitFor(t, convergeWithin, func() string { return describe(nodes) }, func() bool {
		return converged(members, nodes)
	})
	return nodes[0].View().Ring
}

func converged(members []string, nodes []*Membership) bool {
	first := nodes[0].View().Ring
	if !slices.Equal(memberIDs(first), members) {
		return false
	}
	want := stampOf(first)
	for _, n := range nodes {
		v := n.View()
		if !v.Ring.Equal(first) {
			return false
		}
		for _, o := range nodes {
			m, ok := v.Members[o.self]
			if !ok || !m.Alive || (stamp{m.RingVersion, m.RingFingerprint}) != want {
				return false
			}
		}
	}
	return true
}

func describe(nodes []*Membership) string {
	var b strings.Builder
	for _, n := range nodes {
		v := n.View()
		fmt.Fprintf(&b, "\n  %s holds v%d %016x %v; sees", n.self, v.Ring.Version(), v.Ring.Fingerprint(), memberIDs(v.Ring))
		for _, id := range slices.Sorted(maps.Keys(v.Members)) {
			m := v.Members[id]
			fmt.Fprintf(&b, " %s(alive=%v leaving=%v v%d)", id, m.Alive, m.Leaving, m.RingVersion)
		}
	}
	return b.String()
}

func ctxWithin(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer collects the nodes' logs; they are printed only when a test
// fails (memberlist may still log after a test returns, which t.Log does
// not allow).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
