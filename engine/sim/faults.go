package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/membership"
)

// faultKind is what one fault does.
type faultKind uint8

const (
	faultCrash     faultKind = iota // kill the node; its disk keeps what a crash keeps
	faultStop                       // stop the node cleanly, restart it later
	faultPause                      // hold everything it sends and receives
	faultPartition                  // split the nodes into groups that cannot talk
	faultOneWay                     // one node's messages to another are held
	faultLatency                    // slow every link
	faultDatagrams                  // lose and duplicate gossip datagrams
	faultStalls                     // hold back some stream writes, as TCP retransmissions do
	faultSkew                       // move one node's clock
	faultJoin                       // start a new node that joins the ring
	faultLeave                      // ask a member to leave the ring
	faultRemove                     // stop a member for good and remove it from the ring
)

// fault is one scheduled fault, drawn in full before the run starts.
type fault struct {
	at, dur time.Duration // from the start of the faults
	kind    faultKind
	node    int
	other   int           // faultOneWay: the receiver
	groups  [][]int       // faultPartition
	lo, hi  time.Duration // faultLatency; faultStalls: hi is the longest stall
	loss    float64       // faultDatagrams; faultStalls: the share of writes stalled
	dup     float64
	skew    time.Duration
	// faultRemove: the member is removed while it runs, cut off from the
	// others, and the cut heals dur after the ring has removed it.
	running bool
}

func (f fault) String() string {
	switch f.kind {
	case faultCrash:
		return fmt.Sprintf("crash n%d for %v", f.node+1, f.dur)
	case faultStop:
		return fmt.Sprintf("stop n%d for %v", f.node+1, f.dur)
	case faultPause:
		return fmt.Sprintf("pause n%d for %v", f.node+1, f.dur)
	case faultPartition:
		var gs []string
		for _, g := range f.groups {
			var ns []string
			for _, i := range g {
				ns = append(ns, fmt.Sprintf("n%d", i+1))
			}
			gs = append(gs, strings.Join(ns, ","))
		}
		return fmt.Sprintf("partition %s for %v", strings.Join(gs, " | "), f.dur)
	case faultOneWay:
		return fmt.Sprintf("hold n%d → n%d for %v", f.node+1, f.other+1, f.dur)
	case faultLatency:
		return fmt.Sprintf("latency %v–%v for %v", f.lo, f.hi, f.dur)
	case faultDatagrams:
		return fmt.Sprintf("datagrams lost %.0f%% duplicated %.0f%% for %v", 100*f.loss, 100*f.dup, f.dur)
	case faultStalls:
		return fmt.Sprintf("%.0f%% of stream writes stalled up to %v for %v", 100*f.loss, f.hi, f.dur)
	case faultSkew:
		return fmt.Sprintf("clock of n%d at %+v", f.node+1, f.skew)
	case faultJoin:
		return fmt.Sprintf("n%d joins", f.node+1)
	case faultLeave:
		return fmt.Sprintf("n%d leaves", f.node+1)
	case faultRemove:
		if f.running {
			return fmt.Sprintf("n%d is cut off and removed while it runs, the cut healing %v after the removal", f.node+1, f.dur)
		}
		return fmt.Sprintf("n%d stops for good and is removed", f.node+1)
	}
	return "?"
}

// schedule draws the faults of a scenario: one lane for joins and
// leaves, one lane per node (crashes, stops, pauses, clock jumps), one
// for partitions and one-way holds, one for link quality. Faults in a
// lane never overlap; lanes do.
func schedule(sc Scenario) []fault {
	rng := rand.New(rand.NewPCG(sc.Seed, 0xfa17))
	var out []fault
	gap := func() time.Duration { return time.Duration(200+rng.IntN(3000)) * time.Millisecond }
	span := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Millisecond }
	// Joins and leaves come in the first two thirds of the faults, so
	// that their handoff meets faults too; a joining node's own lane
	// starts once it has joined.
	changeBy := int(sc.Faults.Milliseconds()) * 2 / 3
	laneStart := make([]time.Duration, sc.Nodes)
	for i := sc.Members(); i < sc.Nodes; i++ {
		laneStart[i] = span(0, changeBy)
		out = append(out, fault{at: laneStart[i], kind: faultJoin, node: i})
	}
	for _, i := range rng.Perm(sc.Members())[:sc.Leaves] {
		out = append(out, fault{at: span(0, changeBy), kind: faultLeave, node: i})
	}
	if sc.Removes > 0 {
		// From a stream of its own, so that the rest of the schedule is
		// what it was before removals existed. Never a node that leaves.
		rr := rand.New(rand.NewPCG(sc.Seed, 0x7e31))
		for _, i := range rr.Perm(sc.Members()) {
			if !slices.ContainsFunc(out, func(f fault) bool { return f.kind == faultLeave && f.node == i }) {
				f := fault{at: time.Duration(rr.IntN(changeBy+1)) * time.Millisecond, kind: faultRemove, node: i}
				if sc.RemoveRunning { // a node that only looks dead
					f.running, f.dur = true, time.Duration(200+rr.IntN(3000))*time.Millisecond
				}
				out = append(out, f)
				break
			}
		}
	}
	for i := range sc.Nodes {
		for at := laneStart[i] + gap(); at < sc.Faults; {
			f := fault{at: at, node: i}
			switch r := rng.IntN(10); {
			case r < 4:
				f.kind, f.dur = faultCrash, span(100, 6000)
				if !sc.Crashes {
					f.kind = faultStop
				}
			case r < 5:
				f.kind, f.dur = faultStop, span(100, 4000)
			case r < 8:
				f.kind, f.dur = faultPause, span(50, 5000)
			default:
				if sc.MaxSkew == 0 {
					continue
				}
				f.kind = faultSkew
				f.skew = time.Duration(rng.Int64N(int64(2*sc.MaxSkew)+1)) - sc.MaxSkew
			}
			out = append(out, f)
			at += f.dur + gap() + gap()
		}
	}
	for at := gap(); at < sc.Faults; {
		f := fault{at: at, dur: span(200, 10000)}
		if rng.IntN(4) == 0 {
			f.kind, f.node = faultOneWay, rng.IntN(sc.Nodes)
			f.other = (f.node + 1 + rng.IntN(sc.Nodes-1)) % sc.Nodes
		} else {
			f.kind = faultPartition
			perm := rng.Perm(sc.Nodes)
			k := 2 + rng.IntN(min(2, sc.Nodes-1)) // two or three groups
			cuts := rng.Perm(sc.Nodes - 1)[:k-1]
			bounds := append([]int{0}, sortedPlusOne(cuts)...)
			bounds = append(bounds, sc.Nodes)
			for g := range k {
				f.groups = append(f.groups, perm[bounds[g]:bounds[g+1]])
			}
		}
		out = append(out, f)
		at += f.dur + gap()
	}
	for at := gap(); at < sc.Faults; {
		f := fault{at: at, dur: span(500, 8000)}
		switch rng.IntN(3) {
		case 0:
			f.kind = faultLatency
			f.lo = time.Duration(rng.IntN(20)) * time.Millisecond
			f.hi = f.lo + time.Duration(rng.IntN(400))*time.Millisecond
		case 1:
			f.kind = faultDatagrams
			f.loss, f.dup = float64(rng.IntN(40))/100, float64(rng.IntN(20))/100
		default:
			// A stalled write holds its connection, not the link: the
			// messages of one pool connection fall behind those of another,
			// and gossip keeps seeing the nodes up.
			f.kind = faultStalls
			f.loss = float64(1+rng.IntN(10)) / 100
			f.hi = span(200, 5000)
		}
		out = append(out, f)
		at += f.dur + gap()
	}
	sortFaults(out)
	return out
}

func sortedPlusOne(xs []int) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = x + 1
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func sortFaults(fs []fault) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].at < fs[j-1].at; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// inject runs the schedule from now; it returns when every fault has
// been applied and undone (or ctx ends, leaving the rest to heal). Each
// lane runs on its own goroutine, its faults in order: one that takes
// time (a node's shutdown, a restart that waits for a partition) delays
// the next fault of its lane, never overlaps it, and delays no other lane.
func (c *Cluster) inject(ctx context.Context, faults []fault) {
	start := time.Now()
	lanes := map[string][]fault{}
	var order []string
	for _, f := range faults {
		l := f.lane()
		if lanes[l] == nil {
			order = append(order, l)
		}
		lanes[l] = append(lanes[l], f)
	}
	var wg sync.WaitGroup
	for _, l := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range lanes[l] {
				if !sleepUntil(ctx, start.Add(f.at)) {
					return
				}
				late := ""
				if d := time.Since(start) - f.at; d > 0 {
					late = fmt.Sprintf(" (late %v: the lane's last fault took that long to end)", d)
				}
				c.trace.add("fault +%v: %v%s", f.at, f, late)
				if undo := c.apply(f); undo != nil {
					sleepUntil(ctx, time.Now().Add(f.dur))
					undo()
				}
			}
		}()
	}
	wg.Wait()
}

// lane names the sequence a fault belongs to (see schedule).
func (f fault) lane() string {
	switch f.kind {
	case faultPartition, faultOneWay:
		return "partitions"
	case faultLatency, faultDatagrams, faultStalls:
		return "links"
	case faultJoin, faultLeave, faultRemove:
		return "membership"
	}
	return fmt.Sprintf("n%d", f.node+1)
}

// apply starts f and returns what ends it (nil: nothing to end).
func (c *Cluster) apply(f fault) func() {
	ips := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, c.nodes[i].host.IP())
		}
		return out
	}
	if sn := c.nodes[f.node]; sn.removed.Load() || sn.removing.Load() {
		switch f.kind {
		case faultCrash, faultStop, faultPause, faultSkew:
			c.trace.add("n%d was removed: no %v", f.node+1, f)
			return nil
		}
	}
	switch f.kind {
	case faultCrash, faultStop:
		c.stop(f.node, f.kind == faultCrash && c.mayCrash(f.node))
		return func() { c.restart(f.node) }
	case faultPause:
		c.nodes[f.node].host.Pause()
		return func() {
			c.nodes[f.node].host.Resume()
			c.trace.add("resume n%d", f.node+1)
		}
	case faultPartition:
		var groups [][]string
		for _, g := range f.groups {
			groups = append(groups, ips(g))
		}
		heal := c.net.Partition(groups...)
		return func() {
			heal()
			c.trace.add("partition healed")
		}
	case faultOneWay:
		from, to := ips([]int{f.node}), ips([]int{f.other})
		c.net.Cut(from, to, false)
		return func() { c.net.Uncut(from, to, false) }
	case faultLatency:
		c.net.SetLatency(f.lo, f.hi)
		return func() { c.net.SetLatency(baseLatency[0], baseLatency[1]) }
	case faultDatagrams:
		c.net.SetDatagramFaults(f.loss, f.dup)
		return func() { c.net.SetDatagramFaults(0, 0) }
	case faultStalls:
		c.net.SetStreamStalls(f.loss, f.hi)
		return func() { c.net.SetStreamStalls(0, 0) }
	case faultSkew:
		c.nodes[f.node].skew.Store(int64(f.skew))
	case faultJoin:
		c.join(f.node)
	case faultLeave:
		c.leave(f.node)
	case faultRemove:
		if f.running {
			c.removeRunning(f.node, f.dur)
		} else {
			c.remove(f.node)
		}
	}
	return nil
}

var baseLatency = [2]time.Duration{100 * time.Microsecond, 2 * time.Millisecond}

// mayCrash reports whether node i may crash now: when the scenario
// spaces crashes, none came within CrashGap before (lanes can be late, so
// the schedule alone cannot promise it). Otherwise the node stops
// cleanly.
func (c *Cluster) mayCrash(i int) bool {
	if c.sc.CrashGap == 0 {
		return true
	}
	c.rngMu.Lock()
	defer c.rngMu.Unlock()
	if !c.lastCrash.IsZero() && time.Since(c.lastCrash) < c.sc.CrashGap {
		c.trace.add("n%d stops cleanly: the last crash was %v ago", i+1, time.Since(c.lastCrash))
		return false
	}
	c.lastCrash = time.Now()
	return true
}

// restart starts a stopped node, one that has run before and was not
// removed.
func (c *Cluster) restart(i int) {
	if c.nodes[i].started.Load() && !c.nodes[i].removed.Load() {
		c.bringUp(i, false, "restart")
	}
}

// join starts a new node with the cluster's first members as its seeds.
func (c *Cluster) join(i int) { c.bringUp(i, true, "join") }

// bringUp starts node i, trying again every second while it fails (a
// start into a partition may not find its cluster).
func (c *Cluster) bringUp(i int, first bool, what string) {
	for attempt := 0; ; attempt++ {
		err := c.start(i, first)
		if err == nil {
			c.trace.add("%s n%d", what, i+1)
			return
		}
		c.trace.add("%s n%d failed: %v", what, i+1, err)
		if attempt == 30 {
			return
		}
		time.Sleep(time.Second)
	}
}

// leave asks node i to leave the ring, as dynctl leave does: it goes on
// running and hands its data to the new owners.
func (c *Cluster) leave(i int) {
	n := c.node(i)
	if n == nil {
		c.trace.add("n%d is down: not asked to leave", i+1)
		return
	}
	if _, err := n.KV().(kv.Admin).Admin([]string{"leave"}); err != nil {
		c.trace.add("n%d: leave: %v", i+1, err)
		return
	}
	c.nodes[i].left.Store(true)
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// remove stops member i for good and has another node remove it, as an
// operator does for a node whose disk is lost: dynctl remove on any other
// node, retried until gossip there has seen it down. Its disk is kept
// only to try a restart from it once the ring has removed it, which must
// fail (membership.ErrRemoved).
func (c *Cluster) remove(i int) {
	sn := c.nodes[i]
	sn.removed.Store(true)
	c.stop(i, false)
	c.trace.add("n%d stopped for good", i+1)
	deadline := time.Now().Add(2 * time.Minute)
	if !c.askRemoval(i, deadline) {
		return
	}
	if !c.awaitRingRemoved(i, deadline) {
		c.trace.add("no running node's ring has removed %s yet; not trying to restart it", sn.id)
		return
	}
	// A restart may reach a node whose ring has not removed it yet; it
	// must then stop on its own once it hears (node.Removed).
	switch err := c.start(i, false); {
	case errors.Is(err, membership.ErrRemoved):
		c.trace.add("n%d refused to start after its removal: %v", i+1, err)
	case err == nil:
		n := c.node(i)
		select {
		case <-n.Removed():
			c.trace.add("n%d started again after its removal, then heard of it and closed", i+1)
		case <-time.After(2 * time.Minute):
			c.removal(fmt.Sprintf("%s started again after its removal and ran on for 2 minutes", sn.id))
		}
		c.stop(i, false)
	default:
		c.trace.add("n%d failed to start after its removal (%v); a partition may hide the ring that removed it", i+1, err)
	}
}

// removeRunning removes member i while it still runs, cut off from
// every other node: an operator's dynctl remove of a node that only
// looks dead. Behind the cut it goes on serving its clients (a write
// there cannot make W >= 2 alone); after is how long the cut outlasts
// the removal. Once the cut heals the node must hear of its removal and
// close (node.Removed) without bringing itself back into the ring, and
// everything acknowledged must still be on the others: the checker's
// question, as for every other fault.
func (c *Cluster) removeRunning(i int, after time.Duration) {
	sn := c.nodes[i]
	if c.node(i) == nil {
		c.trace.add("n%d is down: removed as a stopped node", i+1)
		c.remove(i)
		return
	}
	sn.removing.Store(true) // its lane's crashes, stops, pauses and clock jumps end here
	self, others := []string{sn.host.IP()}, []string(nil)
	for j, o := range c.nodes {
		if j != i {
			others = append(others, o.host.IP())
		}
	}
	c.net.Cut(self, others, true)
	c.trace.add("n%d cut off from every other node, still running", i+1)
	cut := true
	heal := func() {
		if cut {
			c.net.Uncut(self, others, true)
			cut = false
			c.trace.add("n%d's cut healed", i+1)
		}
	}
	defer func() {
		heal()
		sn.removed.Store(true)
		c.stop(i, false)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	if !c.askRemoval(i, deadline) {
		return
	}
	if !c.awaitRingRemoved(i, deadline) {
		c.removal(fmt.Sprintf("no ring removed %s in 2 minutes after a node took its removal", sn.id))
		return
	}
	time.Sleep(after)
	heal()
	n := c.node(i)
	if n == nil {
		c.removal(fmt.Sprintf("%s, removed while running, was down when its cut healed", sn.id))
		return
	}
	select {
	case <-n.Removed():
		c.trace.add("n%d heard of its removal and closed", i+1)
	case <-time.After(2 * time.Minute):
		c.removal(fmt.Sprintf("%s, removed while running, ran on for 2 minutes after its cut healed", sn.id))
	}
}

// askRemoval has another running member remove member i, as dynctl
// remove does, retrying every second until one takes it (gossip there
// must have seen i down) or the deadline passes.
func (c *Cluster) askRemoval(i int, deadline time.Time) bool {
	for time.Now().Before(deadline) {
		for j := range c.nodes {
			n := c.node(j)
			if j == i || n == nil || c.nodes[j].left.Load() || c.nodes[j].removed.Load() || c.nodes[j].removing.Load() {
				continue
			}
			_, err := n.KV().(kv.Admin).Admin([]string{"remove", c.nodes[i].id})
			if err == nil {
				c.trace.add("n%d asked to remove n%d", j+1, i+1)
				return true
			}
			c.trace.add("n%d: remove n%d: %v", j+1, i+1, err)
		}
		time.Sleep(time.Second)
	}
	c.removal(fmt.Sprintf("no node took the removal of %s in 2 minutes", c.nodes[i].id))
	return false
}

// awaitRingRemoved waits until some running node's ring has removed
// member i.
func (c *Cluster) awaitRingRemoved(i int, deadline time.Time) bool {
	for !c.ringRemoved(c.nodes[i].id) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(500 * time.Millisecond)
	}
	return true
}

// ringRemoved reports whether some running node's ring removed id.
func (c *Cluster) ringRemoved(id string) bool {
	for j := range c.nodes {
		if n := c.node(j); n != nil && !c.nodes[j].removed.Load() && c.nodes[j].id != id {
			if v := n.View(); v.Ring != nil && v.Ring.Removed(id) {
				return true
			}
		}
	}
	return false
}

// removal records a broken promise of a removal.
func (c *Cluster) removal(what string) {
	c.trace.add("violation: %s", what)
	c.rngMu.Lock()
	c.removalErrs = append(c.removalErrs, what)
	c.rngMu.Unlock()
}
