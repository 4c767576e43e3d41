package admit

import "time"

// Law moves a task's rate once per window, by additive increase and
// multiplicative decrease (AIMD) on one binary signal: was the window's
// foreground p99 over the target, or a queueing signal over the window
// over its own (Controller.SetQueueing)? The queueing signals are what
// a node without clients of its own (a joiner) backs off by.
//
// Why it is stable: suppose foreground p99 exceeds the target exactly when
// background work runs faster than some rate r* (latency grows with the
// work competing for the cores and the disk). Below r* the rate climbs by
// Step·Max per window; the first window over r* halves it. From any start
// the rate reaches the band [Decrease·r*, r* + Step·Max] within
// Max/(Step·Max) windows and stays there: a sawtooth whose mean is about
// 3/4 r* with Decrease ½, never a runaway, because each breach costs at
// most one window of excess work. Tasks sharing the signal converge to
// equal rates (Chiu and Jain, 1989): each decrease shrinks their
// difference, each increase keeps it. If r* moves (the foreground load
// changes) the band follows within as many windows. The floor keeps
// every task moving even when r* is below it: a join under full load
// finishes, later.
type Law struct {
	// Target is the foreground p99 background work must not push the node
	// past. 0: Factor times the node's own quiet p99 (Controller tracks
	// it), but at least MinTarget.
	Target    time.Duration
	Factor    float64
	MinTarget time.Duration
	// MinSamples: a window with fewer foreground requests says nothing
	// about latency (a p99 of ten requests is one request), so it counts
	// as under the target.
	MinSamples uint64
	// Step is the additive increase per window, as a share of a task's
	// Max; Decrease the factor a breach multiplies the rate by.
	Step, Decrease float64
}

// DefaultLaw is the law nodes run: double the quiet p99, at least 2 ms;
// a window needs 200 requests to count; 5 % of the maximum up per
// window, half down.
func DefaultLaw() Law {
	return Law{Factor: 2, MinTarget: 2 * time.Millisecond, MinSamples: 200, Step: 0.05, Decrease: 0.5}
}

// Breached reports whether window w is over target.
func (l Law) Breached(w Window, target time.Duration) bool {
	return w.Count >= l.MinSamples && w.P99 > target
}

// Next is a task's rate after a window, within [floor, ceiling].
func (l Law) Next(rate, floor, ceiling float64, breached bool) float64 {
	if breached {
		rate *= l.Decrease
	} else {
		rate += l.Step * ceiling
	}
	return min(ceiling, max(floor, rate))
}
