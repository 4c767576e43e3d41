package cluster

import (
	"testing"
	"time"
)

// A compaction writing past the compact task's grant waits for it, a
// quarter second at most per call, so it soon sees a new rate; within the
// grant it does not wait.
func TestCompactionPacerWaitsForTheGrant(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	o.CompactionRate = 4 << 20 // ceiling 4 MiB/s: a burst of 1 MiB
	b := newBackground(o)
	now := time.Unix(0, 0)
	var slept []time.Duration
	p := CompactionPacer{task: b.compact, now: func() time.Time { return now }, sleep: func(d time.Duration) { slept = append(slept, d) }}

	p.Pace(1 << 20) // the burst
	if len(slept) != 0 {
		t.Fatalf("a burst's worth waited %v", slept)
	}
	p.Pace(1 << 19) // half a MiB over: 125 ms at 4 MiB/s
	if len(slept) != 1 || slept[0] != 125*time.Millisecond {
		t.Fatalf("half a MiB over the grant waited %v, want [125ms]", slept)
	}
	p.Pace(4 << 20) // a further second's worth: capped
	if len(slept) != 2 || slept[1] != maxCompactionPause {
		t.Fatalf("over a second's debt waited %v, want a cap of %v", slept[1:], maxCompactionPause)
	}
}
