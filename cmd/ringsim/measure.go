package main

import (
	"fmt"
	"math"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
)

// result is one row of the table; each figure has its ideal beside it.
type result struct {
	nodes, q                  int
	primary, primaryIdeal     float64
	replica, replicaIdeal     float64
	joinMoved, joinIdeal      float64
	leaveMoved, leaveIdeal    float64
	joinRepl, joinReplIdeal   float64
	leaveRepl, leaveReplIdeal float64
	zoneSpread                float64
	badWindows                int
	failover, failoverIdeal   float64
	buildMillis               float64
}

func (r result) String() string {
	return fmt.Sprintf("%d\t%d\t%.1f\t%.3f (%.3f)\t%.3f (%.3f)\t%.4f (%.4f)\t%.4f (%.4f)\t%.4f (%.4f)\t%.4f (%.4f)\t%.3f (1)\t%d (0)\t%.3f (%.3f)\t%.0f\t",
		r.nodes, r.q, float64(r.q)/float64(r.nodes),
		r.primary, r.primaryIdeal, r.replica, r.replicaIdeal,
		r.joinMoved, r.joinIdeal, r.leaveMoved, r.leaveIdeal,
		r.joinRepl, r.joinReplIdeal, r.leaveRepl, r.leaveReplIdeal,
		r.zoneSpread, r.badWindows, r.failover, r.failoverIdeal, r.buildMillis)
}

func members(n int, o options) []ring.Member {
	ms := make([]ring.Member, n)
	for i := range ms {
		ms[i] = member(i, o)
	}
	return ms
}

func member(i int, o options) ring.Member {
	m := ring.Member{ID: fmt.Sprintf("node-%04d", i), Weight: o.weights[i%len(o.weights)]}
	if o.zones > 0 {
		m.Zone = fmt.Sprintf("zone-%d", i%o.zones)
	}
	return m
}

func measure(q, n int, o options) (result, error) {
	res := result{nodes: n, q: q}
	ms := members(n, o)
	start := time.Now()
	r, err := ring.New(ring.Config{Partitions: q, Replicas: o.replicas}, ms)
	if err != nil {
		return res, err
	}
	res.buildMillis = float64(time.Since(start).Microseconds()) / 1000
	st := r.Stats()
	res.primary, res.replica = st.PrimaryImbalance, st.ReplicaImbalance
	res.primaryIdeal, res.replicaIdeal = st.BestImbalance, st.BestImbalance
	res.zoneSpread = st.ZoneSpread
	res.badWindows = st.NodeViolations + st.ZoneViolations
	res.failover, res.failoverIdeal = st.FailoverMax, failoverBound(r)

	newcomer := member(n, o)
	joined, err := r.Join(newcomer)
	if err != nil {
		return res, err
	}
	res.joinMoved, res.joinRepl, err = moved(r, joined)
	if err != nil {
		return res, err
	}
	// The least a join can move: what the newcomer ends up holding.
	res.joinIdeal, res.joinReplIdeal = holds(joined, newcomer.ID)
	if n > 1 {
		leaver := ms[n/2]
		left, err := r.Leave(leaver.ID)
		if err != nil {
			return res, err
		}
		res.leaveMoved, res.leaveRepl, err = moved(r, left)
		if err != nil {
			return res, err
		}
		// The least a leave can move: what the leaver held.
		res.leaveIdeal, res.leaveReplIdeal = holds(r, leaver.ID)
	}
	return res, nil
}

// moved returns the fraction of partitions whose owner changed and the
// fraction of the N·Q replica slots whose holder changed (data to copy).
func moved(from, to *ring.Ring) (owners, replicas float64, err error) {
	a, b := from.Owners(), to.Owners()
	changed := 0
	for p := range a {
		if a[p] != b[p] {
			changed++
		}
	}
	diff, err := from.Diff(to)
	if err != nil {
		return 0, 0, err
	}
	added := 0
	for _, c := range diff {
		added += len(c.Added)
	}
	q := float64(from.Partitions())
	n := float64(min(from.Config().Replicas, to.Len()))
	return float64(changed) / q, float64(added) / (n * q), nil
}

func totalWeight(ms []ring.Member) float64 {
	t := 0.0
	for _, m := range ms {
		t += m.Weight
	}
	return t
}

// holds returns the fractions of partitions and of replica slots that
// member id holds in r.
func holds(r *ring.Ring, id string) (owned, replicas float64) {
	n := 0
	for _, o := range r.Owners() {
		if o == id {
			n++
		}
	}
	q := float64(r.Partitions())
	slots := float64(min(r.Config().Replicas, r.Len())) * q
	return float64(n) / q, float64(len(r.Replicated(id))) / slots
}

// failoverBound is the least FailoverMax can be: a member whose replica
// load is ℓ slots hands each to some other member, so one of them takes at
// least 1/min(ℓ, members-1) of it.
func failoverBound(r *ring.Ring) float64 {
	worst := 0.0
	for _, m := range r.Members() {
		if l := min(len(r.Replicated(m.ID)), r.Len()-1); l > 0 {
			worst = math.Max(worst, 1/float64(l))
		}
	}
	return worst
}
