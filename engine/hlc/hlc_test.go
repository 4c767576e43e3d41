package hlc

import (
	"sync"
	"testing"
	"time"
)

func TestNowMonotonicWhenWallStandsStillOrGoesBack(t *testing.T) {
	wall := time.Unix(1_700_000_000, 0)
	c := New(func() time.Time { return wall })
	a := c.Now()
	b := c.Now()
	wall = wall.Add(-time.Second) // the wall clock steps back
	d := c.Now()
	if !(a < b && b < d) {
		t.Fatalf("timestamps not increasing: %d %d %d", a, b, d)
	}
	if Time(a) != time.Unix(1_700_000_000, 0) {
		t.Fatalf("Time(a) = %v", Time(a))
	}
}

func TestObserveMovesPast(t *testing.T) {
	wall := time.Unix(1_700_000_000, 0)
	c := New(func() time.Time { return wall })
	remote := FromTime(wall.Add(time.Minute)) + 5
	c.Observe(remote)
	if got := c.Now(); got <= remote {
		t.Fatalf("Now() = %d after observing %d", got, remote)
	}
	c.Observe(1) // an old timestamp changes nothing
	if got := c.Now(); got <= remote+1 {
		t.Fatalf("Now() = %d went back", got)
	}
}

func TestCeilBoundsTheMillisecond(t *testing.T) {
	at := time.Unix(1_700_000_000, 123_000_000)
	c := New(func() time.Time { return at })
	for range 100 {
		if ts := c.Now(); ts > Ceil(at) || ts < FromTime(at) {
			t.Fatalf("ts %d outside [%d, %d]", ts, FromTime(at), Ceil(at))
		}
	}
}

func TestConcurrentNowUnique(t *testing.T) {
	c := New(nil)
	const workers, each = 4, 2000
	out := make(chan uint64, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				out <- c.Now()
			}
		})
	}
	wg.Wait()
	close(out)
	seen := map[uint64]bool{}
	for ts := range out {
		if seen[ts] {
			t.Fatalf("duplicate timestamp %d", ts)
		}
		seen[ts] = true
	}
}
