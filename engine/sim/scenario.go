package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Scenario is what a seed decides about a run, before any fault.
type Scenario struct {
	Seed uint64
	// Nodes counts every host: the members the cluster forms with, then
	// Joins more that join its ring during the faults. Leaves members
	// leave the ring during the faults (and keep running, as a node does
	// after dynctl leave, until they have handed their data off).
	Nodes, Joins, Leaves int
	// Removes members are stopped for good during the faults and removed
	// from the ring by another node (dynctl remove); the others rebuild
	// their partitions from the surviving replicas. Drawn only where every
	// acknowledged write has a copy no crash takes on another node than
	// the removed one: W >= 2 and sync everywhere.
	Removes int
	// RemoveRunning: the member is removed while it still runs, cut off
	// from every other node, instead of stopped first. Drawn in seeds
	// that qualify for a removal but did not draw the stopped kind, so
	// that the seeds removing a stopped node stay what they were.
	RemoveRunning bool

	N, R, W int
	// DurableReplicas and Durability are the cluster's durability: a
	// write is fsynced on DurableReplicas replicas, the coordinator first,
	// and written with Durability on the others.
	DurableReplicas int
	Durability      kv.Durability
	// Crashes lose what a node had not synced (power loss, not only a
	// killed process). With a durable replica or sync everywhere an
	// acknowledged write is synced somewhere before its answer. Buffered
	// everywhere, a node syncs what it acknowledged within about 110 ms
	// (store FlushInterval + SyncInterval), and the promise is that a
	// write survives the crash of W-1 of its acknowledgers: so crashes
	// come only when W >= 2, and no two closer than CrashGap. Otherwise
	// nodes are stopped cleanly instead.
	Crashes  bool
	CrashGap time.Duration
	// SyncInterval is each node's periodic fsync of buffered writes (0:
	// the store's default, 100 ms; negative: none). The periodic fsync
	// hides a write whose only durable copy was let go of, unless a crash
	// comes within it; so where the durability promise does not rest on it
	// (a durable replica, or sync everywhere) seeds also draw 2 s and none.
	SyncInterval time.Duration
	// MaxSkew bounds each node's clock offset from true time.
	MaxSkew time.Duration
	// LANGossip runs membership at dynamod's own timing (probe every
	// second, dead after about 4 s, push-pull every 30 s); otherwise at
	// the tests' fast timing (dead in well under a second).
	LANGossip bool
	// Faults is how long the schedule injects faults while the clients
	// run; Converge how long, after healing, the replicas have to agree.
	Faults, Converge time.Duration
	Workload         Workload
}

// Workload sizes the clients.
type Workload struct {
	RegisterClients, KeysPerClient int
	CounterClients, Counters       int
	SetClients, Sets               int
	Pause                          time.Duration // between one client's requests
}

// NewScenario draws the scenario of a seed.
func NewScenario(seed uint64) Scenario {
	rng := rand.New(rand.NewPCG(seed, 0x5ce0))
	s := Scenario{Seed: seed, Nodes: 3 + rng.IntN(5)}
	s.N = min(s.Nodes, 2+rng.IntN(2))
	// Any R and W that overlap: R + W > N.
	s.R = 1 + rng.IntN(s.N)
	s.W = max(1, s.N+1-s.R+rng.IntN(s.R))
	s.W = min(s.W, s.N)
	switch rng.IntN(4) {
	case 0:
		s.Durability = kv.Buffered
		if s.W >= 2 {
			s.Crashes, s.CrashGap = true, time.Second
		}
	case 1:
		s.Durability, s.DurableReplicas, s.Crashes = kv.Buffered, 1, true
	case 2:
		s.Durability, s.DurableReplicas, s.Crashes = kv.WAL, 1, true
	default:
		s.Durability, s.Crashes = kv.Sync, true
	}
	// From a stream of its own, so the draws above and below are the same
	// as before this knob existed.
	if s.DurableReplicas > 0 || s.Durability == kv.Sync {
		s.SyncInterval = []time.Duration{0, 2 * time.Second, -1}[rand.New(rand.NewPCG(seed, 0x5c11)).IntN(3)]
	}
	s.MaxSkew = time.Duration(rng.IntN(3)) * 250 * time.Millisecond
	s.Faults = time.Duration(20+rng.IntN(21)) * time.Second
	// A dead key some replicas still hold after the first owner reaped it
	// waits out the reaper's fence (1 min) and one anti-entropy pass (2 min)
	// (docs/architecture.md, known limits); membership at LAN timing may
	// take half a minute more to see every node up. The rest is margin:
	// the slowest of 1,000 seeds took 228 s.
	s.Converge = 6 * time.Minute
	s.LANGossip = rng.IntN(2) == 0
	// The cluster forms with at least three members and keeps at least
	// three in its ring.
	s.Joins = rng.IntN(min(2, s.Nodes-3) + 1)
	if s.Nodes-s.Joins > 3 && rng.IntN(2) == 0 {
		s.Leaves = 1
	}
	// From a stream of its own, as SyncInterval.
	if s.W >= 2 && s.Durability == kv.Sync && s.DurableReplicas == 0 && s.Members()-s.Leaves > 3 {
		rr := rand.New(rand.NewPCG(seed, 0x7e30))
		switch {
		case rr.IntN(2) == 0:
			s.Removes = 1
		case rr.IntN(2) == 0:
			s.Removes, s.RemoveRunning = 1, true
		}
	}
	s.Workload = Workload{
		RegisterClients: 3 + rng.IntN(4), KeysPerClient: 4 + rng.IntN(8),
		CounterClients: 1 + rng.IntN(3), Counters: 1 + rng.IntN(3),
		SetClients: 1 + rng.IntN(3), Sets: 1 + rng.IntN(4),
		Pause: time.Duration(5+rng.IntN(46)) * time.Millisecond,
	}
	return s
}

// Members is how many nodes the cluster forms with.
func (s Scenario) Members() int { return s.Nodes - s.Joins }

func (s Scenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d nodes", s.Seed, s.Nodes-s.Joins)
	if s.Joins > 0 {
		fmt.Fprintf(&b, " (+%d joining)", s.Joins)
	}
	if s.Leaves > 0 {
		fmt.Fprintf(&b, " (%d leaving)", s.Leaves)
	}
	switch {
	case s.RemoveRunning:
		fmt.Fprintf(&b, " (%d removed while it runs)", s.Removes)
	case s.Removes > 0:
		fmt.Fprintf(&b, " (%d removed for good)", s.Removes)
	}
	fmt.Fprintf(&b, ", N=%d R=%d W=%d, %s", s.N, s.R, s.W, s.Durability)
	if s.DurableReplicas > 0 {
		fmt.Fprintf(&b, " with %d durable replica", s.DurableReplicas)
	}
	switch {
	case !s.Crashes:
		b.WriteString(", clean stops only")
	case s.CrashGap > 0:
		fmt.Fprintf(&b, ", crashes %v apart", s.CrashGap)
	}
	switch {
	case s.SyncInterval < 0:
		b.WriteString(", no periodic fsync")
	case s.SyncInterval > 0:
		fmt.Fprintf(&b, ", fsync every %v", s.SyncInterval)
	}
	fmt.Fprintf(&b, ", skew ≤ %v, faults %v", s.MaxSkew, s.Faults)
	if s.LANGossip {
		b.WriteString(", LAN gossip")
	} else {
		b.WriteString(", fast gossip")
	}
	w := s.Workload
	fmt.Fprintf(&b, ", %d×%d registers, %d clients on %d counters, %d clients on %d sets",
		w.RegisterClients, w.KeysPerClient, w.CounterClients, w.Counters, w.SetClients, w.Sets)
	return b.String()
}
