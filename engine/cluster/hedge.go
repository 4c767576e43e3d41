package cluster

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/engine/admit"
)

// askR narrows a read at R=r to r of its targets: this node's own copy
// when it is one and readable (a local read costs no round trip) and the
// others in preference order. The own copy comes last, so that the
// driver has asked the others before it reads its own; an own copy that
// is not readable goes behind the others. The targets left out go to the
// head of the spares and count as hedges (left), so that a failure
// brings the next one in at once and a slow answer brings them in after
// the hedge delay (hedger), as Cassandra's speculative retry does.
//
// Asking all N and taking the first R, as the paper's coordinator does,
// costs N-1 round trips per read, of which N-R are read only for read
// repair: on three nodes at R=2 that is two remote reads where one makes
// the quorum. Replicas not asked are kept in step by hinted handoff,
// anti-entropy and the reads that do reach them; R+W>N overlaps as
// before, since the first R answers were any R of the N.
func askR(r int, self string, selfReadable bool, targets, spares []target, left int) (ts, sp []target, hedges int) {
	if r < 1 || len(targets) <= r {
		return targets, spares, left
	}
	ts = make([]target, 0, r)
	sp = make([]target, 0, len(targets)-r+len(spares))
	own := indexOf(targets, self)
	switch {
	case own >= 0 && targets[own].hintFor != "":
		own = -1 // a fallback's copy: a target like any other
	case own >= 0 && !selfReadable:
		// Catching up (a read through) or just failed: asked only when
		// the others cannot make R.
		rest := slices.Delete(slices.Clone(targets), own, own+1)
		targets = append(rest, targets[own])
		own = -1
	}
	others := r
	if own >= 0 {
		others-- // the own copy takes the last place
	}
	for i, tg := range targets {
		switch {
		case i == own:
		case len(ts) < others:
			ts = append(ts, tg)
		default:
			sp = append(sp, tg)
		}
	}
	if own >= 0 {
		ts = append(ts, targets[own])
	}
	return ts, append(sp, spares...), left + len(targets) - r
}

// hedger is how long a read waits for the replicas it asked before it
// asks those it left out: the 99th percentile of recent remote reads,
// recomputed at most once a second from the reads since the last
// recomputation (a window stays open until it holds hedgeSamples reads,
// so a quiet node's delay still follows its reads, more slowly), within
// [minHedge, the read timeout/2].
// Hedging at the p99 re-asks one read in a hundred when nothing is wrong,
// and bounds a read stuck on a paused or partitioned replica to about
// twice a normal slow read instead of the timeout.
type hedger struct {
	rtt   admit.Histogram // remote fetches that answered
	delay atomic.Int64    // nanoseconds; 0 until the first window
	mu    sync.Mutex      // guards prev and at
	prev  admit.Snapshot
	at    time.Time
}

const (
	minHedge     = time.Millisecond
	initialHedge = 10 * time.Millisecond
	hedgeWindow  = time.Second
	hedgeSamples = 100 // fewer reads in a window leave the delay as it was
)

func (h *hedger) record(d time.Duration) { h.rtt.Record(d) }

// after is the hedge delay for a read starting at now.
func (h *hedger) after(now time.Time, timeout time.Duration) time.Duration {
	if h.mu.TryLock() {
		if now.Sub(h.at) >= hedgeWindow {
			var cur admit.Snapshot
			h.rtt.Snapshot(&cur)
			if w := admit.Between(&h.prev, &cur); w.Count >= hedgeSamples {
				h.delay.Store(int64(w.P99))
				h.prev, h.at = cur, now
			}
		}
		h.mu.Unlock()
	}
	return h.current(timeout)
}

// current is the delay as last computed, without recomputing it (stats).
func (h *hedger) current(timeout time.Duration) time.Duration {
	d := time.Duration(h.delay.Load())
	if d == 0 {
		d = initialHedge
	}
	return min(max(d, minHedge), timeout/2)
}
