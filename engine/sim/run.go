package sim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/check"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/ring"
)

// Result is one run's verdict.
type Result struct {
	Scenario Scenario
	Report   check.Report
	// SetupErr: the cluster never formed; nothing was checked.
	SetupErr string
	// Diverged lists keys whose replicas still differed when Converge ran
	// out; Unhealed says what else had not healed (members, hints).
	Diverged []string
	Unhealed string
	// Probe lists what the probes of conditional commands on the healed
	// cluster found wrong (see probeConditionals); ProbeUnavailable counts
	// their requests that failed as unavailable, which they cannot judge.
	Probe            []string
	ProbeUnavailable int
	// DotsMintedTwice lists writes of a key minted with a dot an earlier
	// write of it had (see observer): a broken promise of the versioning
	// whether or not a value was lost by it.
	DotsMintedTwice []string
	// TreesWrong lists the partition trees a node kept up to date on its
	// writes that differ from a scan of the partition (engine.CheckKeptTrees).
	TreesWrong []string
	// RemovalErrs lists what went wrong with a removal (Scenario.Removes):
	// no node took it, or the removed node started again.
	RemovalErrs []string
	// ConvergedAfter is the time from healing until every check of
	// convergence held.
	ConvergedAfter time.Duration
	// Requests counts the requests sent to running nodes during faults
	// and how many did not succeed; Refused those not sent (node down).
	Requests, Failed, Refused int
	// Simulated is how long the run lasted in simulated time. Seeds
	// counts runs, in totals.
	Simulated time.Duration
	Seeds     int
	Trace     *Trace
}

// add sums o's counts into r, for totals over seeds.
func (r *Result) add(o *Result) {
	a, b := &r.Report, &o.Report
	a.AckedWrites += b.AckedWrites
	a.Lost += b.Lost
	a.Resurrected += b.Resurrected
	a.AckedIncrements += b.AckedIncrements
	a.LostIncrements += b.LostIncrements
	a.PhantomIncrements += b.PhantomIncrements
	a.AckedElements += b.AckedElements
	a.LostElements += b.LostElements
	r.Requests += o.Requests
	r.Failed += o.Failed
	r.Refused += o.Refused
	r.Diverged = append(r.Diverged, o.Diverged...)
	r.Probe = append(r.Probe, o.Probe...)
	r.DotsMintedTwice = append(r.DotsMintedTwice, o.DotsMintedTwice...)
	r.TreesWrong = append(r.TreesWrong, o.TreesWrong...)
	r.RemovalErrs = append(r.RemovalErrs, o.RemovalErrs...)
	r.ProbeUnavailable += o.ProbeUnavailable
	r.Simulated += o.Simulated
	r.Seeds++
}

// Passed reports whether the run kept every promise.
func (r *Result) Passed() bool {
	return r.SetupErr == "" && r.Report.Failures() == 0 && len(r.Diverged) == 0 && r.Unhealed == "" && len(r.Probe) == 0 &&
		len(r.DotsMintedTwice) == 0 && len(r.TreesWrong) == 0 && len(r.RemovalErrs) == 0
}

// Counts says what the clients did and what the checker found.
func (r *Result) Counts() string {
	rep := &r.Report
	return fmt.Sprintf("%d acknowledged writes (%d lost, %d resurrected), %d increments (%d lost, %d phantom), %d elements (%d lost); %d requests, %d failed, %d refused",
		rep.AckedWrites, rep.Lost, rep.Resurrected, rep.AckedIncrements, rep.LostIncrements, rep.PhantomIncrements,
		rep.AckedElements, rep.LostElements, r.Requests, r.Failed, r.Refused)
}

// Summary is a one-line verdict.
func (r *Result) Summary() string {
	s := r.Counts()
	switch {
	case r.SetupErr != "":
		return "setup failed: " + r.SetupErr
	case len(r.Diverged) > 0:
		s += fmt.Sprintf("; %d keys not converged (%s)", len(r.Diverged), strings.Join(r.Diverged[:min(5, len(r.Diverged))], " "))
	case r.Unhealed != "":
		s += "; not healed: " + r.Unhealed
	case len(r.Probe) > 0:
		s += fmt.Sprintf("; %d probe failures: %s", len(r.Probe), strings.Join(r.Probe[:min(3, len(r.Probe))], "; "))
	case len(r.DotsMintedTwice) > 0:
		s += fmt.Sprintf("; %d dots minted twice: %s", len(r.DotsMintedTwice), strings.Join(r.DotsMintedTwice[:min(3, len(r.DotsMintedTwice))], "; "))
	case len(r.RemovalErrs) > 0:
		s += "; removal: " + strings.Join(r.RemovalErrs, "; ")
	case len(r.TreesWrong) > 0:
		s += fmt.Sprintf("; %d kept partition trees differ from a scan: %s", len(r.TreesWrong), strings.Join(r.TreesWrong[:min(3, len(r.TreesWrong))], "; "))
	default:
		s += fmt.Sprintf("; converged %.1fs after healing", r.ConvergedAfter.Seconds())
		if r.ProbeUnavailable > 0 {
			s += fmt.Sprintf("; %d probe requests unavailable", r.ProbeUnavailable)
		}
	}
	return s
}

// Run simulates the scenario of seed. Call it inside a testing/synctest
// bubble: it sleeps for minutes of simulated time. Every change any node
// makes to the watched keys goes into the trace.
func Run(seed uint64, watch ...string) *Result {
	sc := NewScenario(seed)
	res := &Result{Scenario: sc, Trace: newTrace()}
	tr := res.Trace
	tr.add("%v", sc)
	c := newCluster(sc, tr, watch)
	start := time.Now()
	defer func() {
		res.Simulated = time.Since(start)
		c.closeAll()
		// memberlist's Shutdown does not wait for a probe in flight, which
		// ends on its timer; the bubble ends only when every goroutine
		// has, so let simulated time run on until they have.
		time.Sleep(time.Minute)
	}()
	if err := c.form(); err != nil {
		res.SetupErr = err.Error()
		return res
	}
	rec := &recorder{hist: check.History{CounterBase: map[string]uint64{}}}
	if err := c.initCounters(rec); err != nil {
		res.SetupErr = err.Error()
		return res
	}
	faults := schedule(sc)
	ctx, cancel := context.WithTimeout(context.Background(), sc.Faults)
	done := make(chan struct{})
	go func() {
		runWorkload(ctx, c, sc.Workload, rec)
		close(done)
	}()
	c.inject(ctx, faults)
	<-ctx.Done()
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		// Every request must end, answered or failed; one still waiting
		// fails the run (and, if it never ends, the bubble with it).
		res.Unhealed = "client requests still unanswered 2 minutes after the faults ended"
		tr.add("%s", res.Unhealed)
		return res
	}
	tr.add("clients stopped; healing")
	c.heal()
	healed := time.Now()
	keys := allKeys(sc.Workload)
	deadline := healed.Add(sc.Converge)
	for {
		res.Diverged, res.Unhealed = c.converged(keys)
		if len(res.Diverged) == 0 && res.Unhealed == "" {
			res.ConvergedAfter = time.Since(healed)
			tr.add("converged")
			break
		}
		if n := int(time.Since(healed) / (500 * time.Millisecond)); n > 0 && n%20 == 0 {
			tr.add("still converging: %d keys differ %v; %s", len(res.Diverged), res.Diverged[:min(3, len(res.Diverged))], res.Unhealed)
		}
		if time.Now().After(deadline) {
			tr.add("not converged: %d keys %v; %s", len(res.Diverged), res.Diverged[:min(5, len(res.Diverged))], res.Unhealed)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	rec.hist.Final = c.finalReads(keys)
	res.Report = check.Check(&rec.hist, check.Options{ExpirySlack: time.Second + 2*sc.MaxSkew, ClockSkew: 2 * sc.MaxSkew})
	res.Requests, res.Failed, res.Refused = rec.requests, rec.failed, rec.refused
	for _, e := range res.Report.Examples {
		tr.add("violation: %s", e)
	}
	for _, e := range res.Report.Notes {
		tr.add("note (allowed): %s", e)
	}
	res.DotsMintedTwice = c.obs.violations()
	for _, v := range res.DotsMintedTwice {
		tr.add("violation: %s", v)
	}
	c.rngMu.Lock()
	res.RemovalErrs = slices.Clone(c.removalErrs)
	c.rngMu.Unlock()
	res.TreesWrong = c.checkKeptTrees()
	for _, v := range res.TreesWrong {
		tr.add("violation: %s", v)
	}
	if len(res.Diverged) == 0 && res.Unhealed == "" {
		res.Probe, res.ProbeUnavailable = c.probeConditionals()
		for _, p := range res.Probe {
			tr.add("violation: %s", p)
		}
	}
	if !res.Passed() {
		c.explain(res, &rec.hist)
	}
	return res
}

// form starts the first members and waits until each sees all of them
// alive in its ring.
func (c *Cluster) form() error {
	for i := range c.sc.Members() {
		if err := c.start(i, true); err != nil {
			return fmt.Errorf("starting n%d: %w", i+1, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if why := c.membersHealed(); why == "" {
			c.trace.add("cluster formed")
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("%s; %s", why, c.views())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkKeptTrees asks every running node's engine whether the partition
// trees it kept up to date on writes still equal scans of their
// partitions.
func (c *Cluster) checkKeptTrees() []string {
	var out []string
	for i := range c.nodes {
		n := c.node(i)
		if n == nil {
			continue
		}
		wrong, err := n.Engine().CheckKeptTrees()
		if err != nil {
			out = append(out, fmt.Sprintf("%s: checking kept trees: %v", c.nodes[i].id, err))
		}
		for _, lo := range wrong {
			out = append(out, fmt.Sprintf("%s: kept tree of the partition at %#x differs from a scan", c.nodes[i].id, lo))
		}
	}
	return out
}

// views says how each running node sees the cluster: its ring, and each
// member's liveness, intent and advertised ring version, so that a cluster
// that did not form says which node missed what.
func (c *Cluster) views() string {
	var b strings.Builder
	for i := range c.nodes {
		n := c.node(i)
		if n == nil {
			continue
		}
		v := n.View()
		if v.Ring == nil {
			fmt.Fprintf(&b, "%s: no ring; ", c.nodes[i].id)
			continue
		}
		var ids []string
		for _, m := range v.Ring.Members() {
			ids = append(ids, m.ID)
		}
		fmt.Fprintf(&b, "%s: v%d %v sees", c.nodes[i].id, v.Ring.Version(), ids)
		for _, id := range slices.Sorted(maps.Keys(v.Members)) {
			m := v.Members[id]
			fmt.Fprintf(&b, " %s(alive=%t leaving=%t v%d)", id, m.Alive, m.Leaving, m.RingVersion)
		}
		b.WriteString("; ")
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// initCounters sets every counter to 0, through any node, until one
// write of each is acknowledged.
func (c *Cluster) initCounters(rec *recorder) error {
	for k := range c.sc.Workload.Counters {
		key := counterKey(k)
		for attempt := 0; ; attempt++ {
			kvi, _, _ := c.kv(attempt % len(c.nodes))
			_, err := kvi.Put([]byte(key), &kv.PutRequest{Value: []byte("0"), SupersedeAll: true, W: c.sc.N})
			if err == nil {
				break
			}
			if attempt == 20 {
				return fmt.Errorf("initialising %s: %w", key, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rec.hist.CounterBase[key] = 0
	}
	return nil
}

// heal ends every fault and restarts every stopped node.
func (c *Cluster) heal() {
	c.net.Heal()
	c.net.SetLatency(baseLatency[0], baseLatency[1])
	c.net.SetDatagramFaults(0, 0)
	c.net.SetStreamStalls(0, 0)
	for _, i := range c.live() {
		if c.node(i) == nil {
			c.restart(i)
		}
	}
}

// membersHealed says what keeps the membership from agreeing; "" when
// nothing does. Every node that has run is up, sees every other alive,
// and routes by the same ring, which holds every node not asked to
// leave. (One that was asked stays out, restarted or not: see node's leftFile.)
func (c *Cluster) membersHealed() string {
	live := c.live()
	var ref *ring.Ring
	for _, i := range live {
		sn, n := c.nodes[i], c.node(i)
		if n == nil {
			return sn.id + " is down"
		}
		v := n.View()
		if v.Ring == nil {
			return sn.id + " has no ring"
		}
		if ref == nil {
			ref = v.Ring
		} else if !v.Ring.Equal(ref) {
			return fmt.Sprintf("%s routes by ring v%d, %s by v%d", sn.id, v.Ring.Version(), c.nodes[live[0]].id, ref.Version())
		}
		if _, in := v.Ring.Member(sn.id); !in && !sn.left.Load() {
			return sn.id + " is not in the ring"
		}
		for _, j := range live {
			if o := c.nodes[j]; !v.Alive(o.id) {
				return fmt.Sprintf("%s sees %s down", sn.id, o.id)
			}
		}
	}
	return ""
}

// converged checks, without disturbing the replicas (no quorum reads, no
// read repair), that membership agrees, that no hint is held, and that
// each key's N owners hold identical records and no other node holds
// one.
func (c *Cluster) converged(keys []string) (diverged []string, unhealed string) {
	if why := c.membersHealed(); why != "" {
		return nil, why
	}
	for _, i := range c.live() {
		sn := c.nodes[i]
		hints := 0
		if err := c.node(i).Engine().ScanHints(func(string, []byte) bool { hints++; return true }); err != nil {
			return nil, err.Error()
		}
		if hints > 0 {
			return nil, fmt.Sprintf("%s holds %d hints", sn.id, hints)
		}
	}
	live := c.live()
	r := c.node(live[0]).View().Ring
	for _, key := range keys {
		owners, err := r.PreferenceList(r.KeyPartition([]byte(key)), min(c.sc.N, r.Len()), nil)
		if err != nil {
			return nil, err.Error()
		}
		want, wantSet := "", false
		for _, i := range live {
			sn := c.nodes[i]
			d := digest(c.node(i).Engine(), key)
			if !slices.Contains(owners, sn.id) {
				if d != "none" {
					diverged = append(diverged, key)
					break
				}
				continue
			}
			if wantSet && d != want {
				diverged = append(diverged, key)
				break
			}
			want, wantSet = d, true
		}
	}
	return diverged, ""
}

func digest(e *engine.Engine, key string) string {
	rec, found, err := e.Record([]byte(key), nil)
	switch {
	case err != nil:
		return "error: " + err.Error()
	case !found:
		return "none"
	}
	return strconv.FormatUint(engine.Digest(rec), 16)
}

// finalReads reads every key through every node that has run, as the
// checker wants.
func (c *Cluster) finalReads(keys []string) []check.Observation {
	var out []check.Observation
	var obj kv.Object
	for _, i := range c.live() {
		sn, n := c.nodes[i], c.node(i)
		for _, key := range keys {
			o := check.Observation{Node: sn.id, Key: key, At: time.Now()}
			if n == nil {
				o.Err = "down"
				out = append(out, o)
				continue
			}
			if err := n.KV().Get([]byte(key), &obj, kv.ReadOptions{}); err != nil {
				o.Err = err.Error()
				out = append(out, o)
				continue
			}
			if w, ok := obj.Winner(); ok {
				o.Found, o.Value = true, string(w.Value)
			}
			for _, s := range obj.Siblings {
				if !s.Deleted {
					o.Siblings = append(o.Siblings, string(s.Value))
				}
			}
			out = append(out, o)
		}
	}
	return out
}

// explain adds to the trace, for every key a violation names, the
// history of its writes and each node's record of it.
func (c *Cluster) explain(res *Result, h *check.History) {
	keys := map[string]bool{}
	for _, k := range res.Diverged {
		keys[k] = true
	}
	for _, e := range res.Report.Examples {
		k, _, _ := strings.Cut(e, " ")
		keys[strings.TrimSuffix(k, ":")] = true
	}
	if res.Unhealed != "" {
		c.explainViews()
	}
	start := c.trace.start
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		var b strings.Builder
		fmt.Fprintf(&b, "key %s:", key)
		for _, op := range h.Registers {
			if op.Key != key {
				continue
			}
			what := "delete"
			if op.Kind == check.Set {
				what = "set " + op.Value
			}
			fmt.Fprintf(&b, "\n    #%d %s via %s %.3f–%.3fs %v", op.Seq, what, op.Node,
				op.Start.Sub(start).Seconds(), op.End.Sub(start).Seconds(), op.Outcome)
		}
		for _, op := range h.Counters {
			if op.Key == key {
				fmt.Fprintf(&b, "\n    incr %d via %s %.3f–%.3fs %v", op.Delta, op.Node,
					op.Start.Sub(start).Seconds(), op.End.Sub(start).Seconds(), op.Outcome)
				if op.Outcome == check.OK {
					fmt.Fprintf(&b, " → %d", op.Result)
				}
			}
		}
		for _, op := range h.Elements {
			if op.Key == key {
				fmt.Fprintf(&b, "\n    add %s via %s %.3f–%.3fs %v", op.Element, op.Node,
					op.Start.Sub(start).Seconds(), op.End.Sub(start).Seconds(), op.Outcome)
			}
		}
		for i, sn := range c.nodes {
			n := c.node(i)
			if n == nil {
				continue
			}
			st, err := n.KV().(kv.Admin).Admin([]string{"record", key})
			fmt.Fprintf(&b, "\n    %s:", sn.id)
			if err != nil {
				fmt.Fprintf(&b, " %v", err)
			}
			for _, s := range st {
				fmt.Fprintf(&b, " %s=%s", s.Name, s.Value)
			}
		}
		c.trace.add("%s", b.String())
	}
}

// explainViews adds to the trace how each running node sees the others:
// its ring and, per member, whether gossip has it alive and at which
// address.
func (c *Cluster) explainViews() {
	for _, i := range c.live() {
		n := c.node(i)
		if n == nil {
			continue
		}
		v := n.View()
		var b strings.Builder
		fmt.Fprintf(&b, "view of %s: ring v%d", c.nodes[i].id, v.Ring.Version())
		for _, m := range v.Ring.Members() {
			fmt.Fprintf(&b, " %s", m.ID)
		}
		b.WriteString(";")
		for _, id := range slices.Sorted(maps.Keys(v.Members)) {
			m := v.Members[id]
			state := "alive"
			if !m.Alive {
				state = "down"
			}
			fmt.Fprintf(&b, " %s %s at %q (leaving %v, ring v%d)", id, state, m.GossipAddr, m.Leaving, m.RingVersion)
		}
		c.trace.add("%s", b.String())
	}
}
