package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"time"
)

// faultKind is one thing that can go wrong.
type faultKind string

const (
	faultKill    faultKind = "kill"    // SIGKILL, restarted when the fault ends
	faultPause   faultKind = "pause"   // SIGSTOP, SIGCONT when it ends
	faultIsolate faultKind = "isolate" // the node cut from every other node (not from clients)
	faultBridge  faultKind = "bridge"  // every node but the one named cut from each other; that one sees all
	faultLoss    faultKind = "loss"    // a share of the node's internode packets dropped
	faultSlow    faultKind = "slow"    // the node's link shaped to 1 Mbit/s
)

func (k faultKind) network() bool {
	return k == faultIsolate || k == faultBridge || k == faultLoss || k == faultSlow
}

// impairs reports whether a fault of this kind takes its node out of
// reach of the others, so requests sent to it may legitimately fail.
func (k faultKind) impairs() bool { return k == faultKill || k == faultPause || k == faultIsolate }

// fault is one entry of a schedule.
type fault struct {
	At, For time.Duration // offsets from the start of the fault window
	Kind    faultKind
	Node    int
	Loss    float64 // faultLoss: the share dropped
}

func (f fault) String() string {
	s := fmt.Sprintf("%6.2fs +%5.2fs %-7s n%d", f.At.Seconds(), f.For.Seconds(), f.Kind, f.Node+1)
	if f.Kind == faultLoss {
		s += fmt.Sprintf(" %.0f%%", 100*f.Loss)
	}
	return s
}

// makeSchedule is the fault schedule of a seed: a sequence of primary
// faults (one at a time, each 1 to 12 s, with short gaps), some with a
// lesser network fault on another node at the same time, filling window.
// The same seed always gives the same schedule. Without namespaces only
// kills and pauses are drawn. Two nodes are never crashed at once: with
// buffered writes a simultaneous crash of every acknowledger loses writes
// by design (docs/architecture.md).
func makeSchedule(seed uint64, nodes int, window time.Duration, netFaults bool) []fault {
	rng := rand.New(rand.NewPCG(seed, 0x6479_6e63_6861_6f73))
	type weighted struct {
		k faultKind
		w int
	}
	kinds := []weighted{{faultKill, 25}, {faultPause, 20}}
	if netFaults {
		kinds = append(kinds, weighted{faultIsolate, 25}, weighted{faultBridge, 10}, weighted{faultLoss, 10}, weighted{faultSlow, 10})
	}
	total := 0
	for _, k := range kinds {
		total += k.w
	}
	pick := func() faultKind {
		n := rng.IntN(total)
		for _, k := range kinds {
			if n < k.w {
				return k.k
			}
			n -= k.w
		}
		return kinds[0].k
	}
	dur := func(lo, hi float64) time.Duration {
		return time.Duration((lo + rng.Float64()*(hi-lo)) * float64(time.Second))
	}
	var out []fault
	t := dur(0.5, 1.5)
	for t < window-time.Second {
		f := fault{At: t, Kind: pick(), Node: rng.IntN(nodes)}
		switch f.Kind {
		case faultIsolate, faultBridge:
			f.For = dur(1, 14) // past gossip's suspicion timeout, often
		default:
			f.For = dur(1, 8)
		}
		if f.Kind == faultLoss {
			f.Loss = 0.1 + 0.3*rng.Float64()
		}
		f.For = min(f.For, window-t)
		out = append(out, f)
		if netFaults && nodes > 1 && rng.IntN(4) == 0 {
			g := fault{At: t + f.For/4, For: f.For / 2, Node: (f.Node + 1 + rng.IntN(nodes-1)) % nodes}
			g.Kind = faultSlow
			if rng.IntN(2) == 0 {
				g.Kind, g.Loss = faultLoss, 0.1+0.3*rng.Float64()
			}
			out = append(out, g)
		}
		t += f.For + dur(0.5, 3)
	}
	return out
}

func scheduleString(s []fault) string {
	var b strings.Builder
	for _, f := range s {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// timeline records when each node was impaired, for availability.
type timeline struct {
	mu      sync.Mutex
	windows []window
}

type window struct {
	node       int // -1: the whole cluster (a bridge)
	start, end time.Time
}

func (tl *timeline) add(node int, start, end time.Time) {
	tl.mu.Lock()
	tl.windows = append(tl.windows, window{node, start, end})
	tl.mu.Unlock()
}

// at reports whether any fault was active at t, and whether node was
// impaired then.
func (tl *timeline) at(t time.Time, node int) (faulty, impaired bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, w := range tl.windows {
		if t.Before(w.start) || t.After(w.end) {
			continue
		}
		faulty = true
		if w.node == node {
			impaired = true
		}
	}
	return faulty, impaired
}

// nemesis applies a schedule to a cluster.
type nemesis struct {
	c     *cluster
	tl    *timeline
	log   func(format string, args ...any)
	start time.Time
}

// run applies every fault at its time and undoes it when it ends; it
// returns when the window is over and everything is healed.
func (nm *nemesis) run(schedule []fault, window time.Duration) {
	var wg sync.WaitGroup
	for _, f := range schedule {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleepUntil(nm.start.Add(f.At))
			began := time.Now()
			if err := nm.apply(f); err != nil {
				nm.log("fault %v: %v", f, err)
				return
			}
			sleepUntil(nm.start.Add(f.At + f.For))
			if err := nm.undo(f); err != nil {
				nm.log("undo %v: %v", f, err)
			}
			end := time.Now()
			switch {
			case f.Kind == faultKill:
				end = end.Add(2 * time.Second) // it still has to start
			case f.Kind == faultIsolate || f.Kind == faultPause:
				end = end.Add(time.Second)
			}
			if f.Kind.impairs() {
				nm.tl.add(f.Node, began, end)
			} else {
				nm.tl.add(-1, began, end)
			}
		}()
	}
	wg.Wait()
	sleepUntil(nm.start.Add(window))
}

func (nm *nemesis) apply(f fault) error {
	c := nm.c
	nm.log("fault  %v", f)
	switch f.Kind {
	case faultKill:
		return c.kill(f.Node)
	case faultPause:
		return c.pause(f.Node)
	case faultIsolate:
		return c.nw.cut(f.Node, others(len(c.nodes), f.Node))
	case faultBridge:
		rest := others(len(c.nodes), f.Node)
		for k, i := range rest {
			if err := c.nw.cut(i, rest[k+1:]); err != nil {
				return err
			}
		}
		return nil
	case faultLoss:
		return c.nw.loss(f.Node, f.Loss)
	case faultSlow:
		return c.nw.slow(f.Node)
	}
	return fmt.Errorf("unknown fault %q", f.Kind)
}

func (nm *nemesis) undo(f fault) error {
	c := nm.c
	nm.log("heal   %v", f)
	switch f.Kind {
	case faultKill:
		return c.start(f.Node)
	case faultPause:
		return c.resume(f.Node)
	case faultBridge, faultIsolate:
		// A cut has rules on both sides of every link it cut.
		for i := range c.nodes {
			if err := c.nw.heal(i); err != nil {
				return err
			}
		}
		return nil
	default:
		return c.nw.heal(f.Node)
	}
}

// healAll undoes whatever may be left: every process running and
// continued, every rule and shaper gone.
func (nm *nemesis) healAll() {
	for i := range nm.c.nodes {
		_ = nm.c.nw.heal(i)
		if !nm.c.running(i) {
			if err := nm.c.start(i); err != nil {
				nm.log("restart n%d: %v", i+1, err)
			}
		} else {
			_ = nm.c.signal(i, syscall.SIGCONT)
		}
	}
}

func others(n, i int) []int {
	var out []int
	for j := range n {
		if j != i {
			out = append(out, j)
		}
	}
	return out
}

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}
