package pace

import (
	"testing"
	"time"
)

func TestRest(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		p    Pacer
		busy time.Duration
		want time.Duration
	}{
		{"zero value never rests", Pacer{}, 10 * ms, 0},
		{"share 1 never rests", Pacer{Share: 1}, 10 * ms, 0},
		{"half: rest as long as the work", Pacer{Share: 0.5}, 10 * ms, 10 * ms},
		{"a tenth: rest nine times the work", Pacer{Share: 0.1}, 2 * ms, 18 * ms},
		{"a quarter", Pacer{Share: 0.25}, 4 * ms, 12 * ms},
		{"no work, no rest", Pacer{Share: 0.1}, 0, 0},
		{"capped by MaxRest", Pacer{Share: 0.01, MaxRest: 50 * ms}, 10 * ms, 50 * ms},
		{"default cap one second", Pacer{Share: 0.01}, 100 * ms, time.Second},
	} {
		if got := tc.p.Rest(tc.busy); got != tc.want {
			t.Errorf("%s: Rest(%v) = %v, want %v", tc.name, tc.busy, got, tc.want)
		}
	}
}

// Over many chunks the task's busy time is its share of the wall time.
func TestDutyCycleHoldsTheShare(t *testing.T) {
	var slept time.Duration
	p := Pacer{Share: 0.2, Sleep: func(d time.Duration, _ <-chan struct{}) bool { slept += d; return true }}
	var busy time.Duration
	for i := range 100 {
		chunk := time.Duration(100+i*7) * time.Microsecond
		busy += chunk
		if !p.After(chunk, nil) {
			t.Fatal("After reported stop without one")
		}
	}
	if share := float64(busy) / float64(busy+slept); share < 0.199 || share > 0.201 {
		t.Errorf("busy share %.4f, want 0.2", share)
	}
}

func TestAfterStops(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	for _, p := range []Pacer{{}, {Share: 0.5}, {Share: 0.5, Sleep: func(time.Duration, <-chan struct{}) bool { return false }}} {
		start := time.Now()
		if p.After(time.Second, stop) {
			t.Errorf("%+v: After returned true with stop closed", p)
		}
		if time.Since(start) > 500*time.Millisecond {
			t.Errorf("%+v: After waited %v with stop closed", p, time.Since(start))
		}
	}
}
