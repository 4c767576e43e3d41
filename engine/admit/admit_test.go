package admit

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(v uint64) {
		i := bucketOf(v)
		if lo, hi := lowerBound(i), upperBound(i); v < lo || v > hi {
			t.Fatalf("%d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if i > 0 && upperBound(i-1)+1 != lowerBound(i) {
			t.Fatalf("gap or overlap below bucket %d", i)
		}
		if lo := lowerBound(i); lo >= 1<<subBits && float64(upperBound(i)-lo+1)/float64(lo) > 1.0/(1<<subBits)+1e-9 {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/%d of its values", i, lo, upperBound(i), 1<<subBits)
		}
	}
	for v := range uint64(5000) {
		check(v)
	}
	for range 100_000 {
		check(rng.Uint64() >> rng.IntN(64))
	}
	check(math.MaxUint64)
}

func TestWindowP99(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name        string
		fast, slow  int
		wantAtLeast time.Duration
		wantBelow   time.Duration
	}{
		{"99 % fast", 990, 10, ms, ms + ms/8 + 1},
		{"98.9 % fast", 989, 11, 100 * ms, 100*ms + 100*ms/8 + 1},
		{"all slow", 0, 5, 100 * ms, 100*ms + 100*ms/8 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			var before, after Snapshot
			h.Record(time.Hour) // before the window: not counted
			h.Snapshot(&before)
			for range tc.fast {
				h.Record(ms)
			}
			for range tc.slow {
				h.Record(100 * ms)
			}
			h.Snapshot(&after)
			w := Between(&before, &after)
			if w.Count != uint64(tc.fast+tc.slow) || w.P99 < tc.wantAtLeast || w.P99 >= tc.wantBelow {
				t.Fatalf("window %+v, want %d requests and p99 in [%v, %v)", w, tc.fast+tc.slow, tc.wantAtLeast, tc.wantBelow)
			}
		})
	}
	var empty Snapshot
	if w := Between(&empty, &empty); w != (Window{}) {
		t.Fatalf("empty window %+v", w)
	}
}

// plant is a node whose foreground p99 is 1 ms while its background work
// runs at most at capacity units per second, and 20 ms beyond.
type plant struct {
	c        *Controller
	capacity float64
	now      time.Time
}

// window runs one period: the tasks take as much as they are granted,
// 1,000 foreground requests are recorded at the latency that work
// causes, and the controller ticks.
func (p *plant) window(tasks ...*Task) (taken []int) {
	step := 10 * time.Millisecond
	taken = make([]int, len(tasks))
	for range int(p.c.period / step) {
		p.now = p.now.Add(step)
		for i, t := range tasks {
			taken[i] += t.Take(1<<20, p.now)
		}
	}
	total := 0
	for _, n := range taken {
		total += n
	}
	lat := time.Millisecond
	if float64(total)/p.c.period.Seconds() > p.capacity {
		lat = 20 * time.Millisecond
	}
	for range 1000 {
		p.c.Foreground.Record(lat)
	}
	p.c.Tick(p.now)
	return taken
}

// The control loop settles in a band around the background rate the
// foreground tolerates, and two tasks sharing it converge to equal
// shares from unequal starts.
func TestLawSettlesAndShares(t *testing.T) {
	law := DefaultLaw()
	law.Target = 5 * time.Millisecond
	p := &plant{c: New(law, 250*time.Millisecond), capacity: 2000, now: time.Unix(0, 0)}
	a := p.c.Task("a", 10, 4000, 1000)
	b := p.c.Task("b", 10, 4000, 1000)
	b.rate = 100 // a late starter
	var sumA, sumB float64
	const settle, measure = 100, 400
	for i := range settle + measure {
		taken := p.window(a, b)
		if i < settle {
			continue
		}
		total := float64(taken[0]+taken[1]) / p.c.period.Seconds()
		if total > p.capacity+2*law.Step*4000 || total < law.Decrease*p.capacity*0.9 {
			t.Fatalf("window %d: background at %.0f units/s, outside the band around capacity %.0f", i, total, p.capacity)
		}
		sumA += float64(taken[0])
		sumB += float64(taken[1])
	}
	if r := sumA / sumB; r < 0.9 || r > 1.1 {
		t.Fatalf("shares %.0f and %.0f (ratio %.2f): not converged to equal", sumA, sumB, r)
	}
	mean := (sumA + sumB) / (measure * p.c.period.Seconds())
	if mean < 0.6*p.capacity || mean > 1.05*p.capacity {
		t.Fatalf("mean background rate %.0f, want about 3/4 of %.0f", mean, p.capacity)
	}
}

// Under a foreground that is always over target, a task still runs at
// its floor: background work slows, never stops.
func TestFloorUnderOverload(t *testing.T) {
	law := DefaultLaw()
	law.Target = time.Millisecond
	p := &plant{c: New(law, 250*time.Millisecond), capacity: -1, now: time.Unix(0, 0)}
	task := p.c.Task("handoff", 40, 10_000, 2500)
	for range 40 {
		p.window(task) // 10 s
	}
	if r := task.Rate(); r != 40 {
		t.Fatalf("rate %.0f under constant overload, want the floor 40", r)
	}
	got := 0
	for range 40 {
		got += p.window(task)[0]
	}
	if got < 380 || got > 420 {
		t.Fatalf("%d units in 10 s at a floor of 40/s", got)
	}
}

// Without a set target the controller derives one from the node's own
// quiet p99: Factor times the lowest windowed p99 seen, at least
// MinTarget; windows too quiet to measure do not count.
func TestDerivedTarget(t *testing.T) {
	law := DefaultLaw()
	c := New(law, time.Second)
	now := time.Unix(0, 0)
	if c.target != law.MinTarget {
		t.Fatalf("initial target %v, want %v", c.target, law.MinTarget)
	}
	record := func(n int, d time.Duration) {
		for range n {
			c.Foreground.Record(d)
		}
		now = now.Add(time.Second)
		c.Tick(now)
	}
	record(500, 5*time.Millisecond)
	want := time.Duration(upperBound(bucketOf(uint64(5 * time.Millisecond))))
	if c.target != 2*want {
		t.Fatalf("target %v after a 5 ms window, want %v", c.target, 2*want)
	}
	record(10, 100*time.Microsecond) // too few to count
	if c.target != 2*want {
		t.Fatalf("target %v after a quiet window, want it unchanged", c.target)
	}
	record(500, 100*time.Microsecond)
	if c.target != law.MinTarget {
		t.Fatalf("target %v after a 100 µs window, want the minimum %v", c.target, law.MinTarget)
	}
}

func TestTakeAccruesAtRateUpToABurst(t *testing.T) {
	c := New(DefaultLaw(), time.Second)
	task := c.Task("hints", 0, 100, 100)
	now := time.Unix(0, 0)
	if got := task.Take(1000, now); got != 100 {
		t.Fatalf("first take %d, want a full burst of 100", got)
	}
	if got := task.Take(1000, now); got != 0 {
		t.Fatalf("take with nothing accrued: %d", got)
	}
	if got := task.Take(1000, now.Add(300*time.Millisecond)); got != 30 {
		t.Fatalf("take after 300 ms at 100/s: %d, want 30", got)
	}
	if got := task.Take(1000, now.Add(time.Hour)); got != 100 {
		t.Fatalf("take after an hour: %d, want the burst cap of 100", got)
	}
	if got := task.Take(5, now.Add(2*time.Hour)); got != 5 {
		t.Fatalf("take of 5: %d", got)
	}
}

// Work whose size is known only once done (a segment served) is paid
// after: debt holds the task back until the rate has paid it off.
func TestChargedWorkHoldsBackUntilPaid(t *testing.T) {
	c := New(DefaultLaw(), time.Second)
	task := c.Task("transfer", 0, 100, 50)
	now := time.Unix(0, 0)
	if !task.Ready(now) {
		t.Fatal("a fresh task is not ready")
	}
	task.Charge(150) // a burst of 50 held: in debt by 100
	if task.Ready(now.Add(990 * time.Millisecond)) {
		t.Fatal("ready after 0.99 s at 100/s with a debt of 100")
	}
	if !task.Ready(now.Add(1015 * time.Millisecond)) {
		t.Fatal("not ready once 1.015 s at 100/s paid a debt of 100")
	}
	if got := task.Take(1000, now.Add(1015*time.Millisecond)); got != 1 {
		t.Fatalf("take right after paying off the debt: %d, want the 1 unit accrued past it", got)
	}
}

// Work that cannot be refused, only slowed (a compaction as it writes), is
// told how long to wait for the rate to pay for what it did; at the
// floor a compaction waits in proportion to its bytes.
func TestOweSaysHowLongToWait(t *testing.T) {
	law := DefaultLaw()
	law.Target = time.Millisecond
	c := New(law, time.Second)
	task := c.Task("compact", 10, 100, 50)
	now := time.Unix(0, 0)
	if d := task.Owe(30, now); d != 0 {
		t.Fatalf("30 units within a burst of 50 wait %v", d)
	}
	if d := task.Owe(120, now); d != time.Second {
		t.Fatalf("a debt of 100 at 100/s waits %v, want 1s", d)
	}
	if d := task.Owe(0, now); d != 0 {
		t.Fatalf("nothing owed waits %v", d)
	}
	// A breach halves the rate to 50/s: the same debt, half paid after the
	// second, waits longer.
	for range 300 {
		c.Foreground.Record(time.Second)
	}
	c.Tick(now)
	if r := task.Rate(); r != 50 {
		t.Fatalf("rate after a breach %v, want 50", r)
	}
	if d := task.Owe(50, now.Add(time.Second)); d != 2*time.Second {
		t.Fatalf("a debt of 100 at 50/s waits %v, want 2s", d)
	}
	if got := task.Worked(); got != 200 {
		t.Fatalf("worked %d, want the 200 units owed", got)
	}
}

// A node serving fewer requests than a window needs to be judged is
// judged over a longer window, not taken for quiet: its tasks back off
// when its few clients are slow. Taken for quiet, a node below 800
// requests a second ran every task at its ceiling however slow its
// clients were.
func TestSlowNodeWithFewRequestsBacksOff(t *testing.T) {
	law := DefaultLaw()
	law.Target = 5 * time.Millisecond
	c := New(law, 250*time.Millisecond)
	task := c.Task("handoff", 40, 10_000, 2500)
	now := time.Unix(0, 0)
	for range 80 { // 20 s of 100 requests a window (400 a second), all slow
		for range 100 {
			c.Foreground.Record(50 * time.Millisecond)
		}
		now = now.Add(250 * time.Millisecond)
		c.Tick(now)
	}
	if r := task.Rate(); r != 40 {
		t.Fatalf("rate %.0f with every request at 50 ms against a 5 ms target, want the floor 40", r)
	}
	// Truly idle (no request at all), it climbs again: after each
	// stretched window, by a step.
	for range 8 * 20 {
		now = now.Add(250 * time.Millisecond)
		c.Tick(now)
	}
	if r := task.Rate(); r != 10_000 {
		t.Fatalf("rate %.0f after 40 s without requests, want the ceiling", r)
	}
}
