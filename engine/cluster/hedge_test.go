package cluster

import (
	"slices"
	"testing"
	"time"
)

func TestAskR(t *testing.T) {
	a, b, c, d := target{id: "a"}, target{id: "b"}, target{id: "c"}, target{id: "d"}
	dForB := target{id: "d", hintFor: "b"}
	for _, tc := range []struct {
		name            string
		r               int
		self            string
		readable        bool
		targets, spares []target
		left            int
		wantTs, wantSp  []target
		wantHedges      int
	}{
		{"the others in preference order, then the own copy", 2, "c", true, []target{a, b, c}, []target{d}, 0, []target{a, c}, []target{b, d}, 1},
		{"a coordinator that is no replica", 2, "d", true, []target{a, b, c}, nil, 0, []target{a, b}, []target{c}, 1},
		{"an unreadable own copy goes behind the others", 2, "c", false, []target{c, a, b}, nil, 0, []target{a, b}, []target{c}, 1},
		{"an unreadable own copy still asked when R needs it", 3, "c", false, []target{c, a, b}, nil, 0, []target{c, a, b}, nil, 0},
		{"R=1 after the own copy failed", 1, "a", false, []target{a, b, c}, nil, 0, []target{b}, []target{c, a}, 2},
		{"a fallback's copy is not the own copy", 2, "d", true, []target{a, dForB, c}, nil, 0, []target{a, dForB}, []target{c}, 1},
		{"R=N asks everyone", 3, "a", true, []target{a, b, c}, []target{d}, 0, []target{a, b, c}, []target{d}, 0},
		{"R=N-1 with the own copy first in the list", 2, "a", true, []target{a, b, c}, nil, 0, []target{b, a}, []target{c}, 1},
		{"fewer targets than R: all asked", 2, "a", true, []target{a}, []target{b}, 0, []target{a}, []target{b}, 0},
		{"left out as behind: still hedges, after those trimmed", 2, "a", true, []target{a, b}, []target{c, d}, 1, []target{a, b}, []target{c, d}, 1},
		{"trimmed go ahead of the behind ones", 1, "a", true, []target{a, b}, []target{c, d}, 1, []target{a}, []target{b, c, d}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, sp, hedges := askR(tc.r, tc.self, tc.readable, tc.targets, tc.spares, tc.left)
			if !slices.Equal(ts, tc.wantTs) || !slices.Equal(sp, tc.wantSp) || hedges != tc.wantHedges {
				t.Fatalf("got %v %v %d, want %v %v %d", ts, sp, hedges, tc.wantTs, tc.wantSp, tc.wantHedges)
			}
		})
	}
}

func TestHedgerFollowsP99(t *testing.T) {
	var h hedger
	now := time.Unix(0, 0)
	if d := h.after(now, time.Second); d != initialHedge {
		t.Fatalf("before any window: %v, want %v", d, initialHedge)
	}
	for i := range 1000 {
		d := time.Millisecond
		if i%100 == 0 {
			d = 40 * time.Millisecond // 1% slow
		}
		h.record(d)
	}
	now = now.Add(hedgeWindow)
	if d := h.after(now, time.Second); d < time.Millisecond || d > 2*time.Millisecond {
		t.Fatalf("p99 of mostly 1 ms reads: %v", d)
	}
	for range 1000 {
		h.record(300 * time.Millisecond)
	}
	now = now.Add(hedgeWindow)
	if d := h.after(now, 400*time.Millisecond); d != 200*time.Millisecond {
		t.Fatalf("slow replicas: %v, want half the timeout", d)
	}
	for range hedgeSamples - 1 {
		h.record(time.Microsecond)
	}
	now = now.Add(hedgeWindow)
	if d := h.after(now, 400*time.Millisecond); d != 200*time.Millisecond {
		t.Fatalf("a thin window moved the delay to %v", d)
	}
	// A quiet node: its window stays open until it holds enough reads.
	h.record(time.Microsecond)
	now = now.Add(hedgeWindow)
	if d := h.after(now, 400*time.Millisecond); d != minHedge {
		t.Fatalf("after a slow window's worth of fast reads: %v, want %v", d, minHedge)
	}
	h2 := hedger{}
	for range 200 {
		h2.record(time.Microsecond)
	}
	h2.after(time.Unix(0, 0).Add(hedgeWindow), time.Second)
	if d := h2.after(time.Unix(0, 0).Add(hedgeWindow), time.Second); d != minHedge {
		t.Fatalf("fast replicas: %v, want the floor %v", d, minHedge)
	}
}
