package admit

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// fakeQueue is a queueing signal whose readings a test sets.
type fakeQueue struct {
	delay time.Duration
	ok    bool
	reads int
}

func (f *fakeQueue) read() (time.Duration, bool) { f.reads++; return f.delay, f.ok }

func TestQueueingBacksOffANodeWithoutClients(t *testing.T) {
	c := New(DefaultLaw(), 250*time.Millisecond)
	task := c.Task("catchup", 1000, 20_000, 5000)
	q := &fakeQueue{delay: 300 * time.Microsecond, ok: true}
	c.SetQueueing(Queue{Name: "runqueue", Target: 100 * time.Microsecond, Read: q.read})
	now := time.Unix(0, 0)
	// window runs the periods of one window of a node without clients
	// (stretched as far as it goes) and returns the rate after each.
	window := func() (rates []float64) {
		for range maxStretch + 1 {
			now = now.Add(250 * time.Millisecond)
			c.Tick(now)
			rates = append(rates, task.Rate())
		}
		return rates
	}
	// No client request at all: each window over the queue target halves
	// the rate once, when it closes, judged over the whole window.
	for i, want := range []float64{10_000, 5000, 2500} {
		rates := window()
		before := rates[len(rates)-2]
		if rates[len(rates)-1] != want || before != 2*want {
			t.Fatalf("window %d: rates %v, want %.0f held until the window closed, then %.0f", i, rates, 2*want, want)
		}
	}
	if q.reads != 3 {
		t.Fatalf("the signal was read %d times in three windows, want once a window", q.reads)
	}
	// Under the target, and too quiet to judge, a window climbs a step.
	q.delay = 50 * time.Microsecond
	window()
	q.delay, q.ok = time.Second, false
	window()
	if r := task.Rate(); r != 4500 {
		t.Fatalf("rate %.0f after two windows not over target, want 2500 + 2 steps of 1000", r)
	}
	st := stats(c.Stats(now))
	if st["bg_backoffs_queueing"] != "3" || st["bg_backoffs_latency"] != "0" || st["bg_queue_runqueue_target_us"] != "100" {
		t.Fatalf("stats %v: want 3 queueing backoffs, none for latency, the target 100 µs", st)
	}
}

// meanQueue is a queueing signal that, like RunQueueWait, reads the mean
// of the periods since its last read.
type meanQueue struct {
	sum time.Duration
	n   int
}

func (m *meanQueue) period(d time.Duration) { m.sum += d; m.n++ }

func (m *meanQueue) read() (time.Duration, bool) {
	if m.n == 0 {
		return 0, false
	}
	d := m.sum / time.Duration(m.n)
	m.sum, m.n = 0, 0
	return d, true
}

// A quiet node's window is judged as a whole: read every period while the
// window stretched to eight, a signal over target one period in nine held
// the rate near a tenth of its ceiling (r = r/2 + step each window).
func TestOneNoisyPeriodDoesNotHoldTheRateDown(t *testing.T) {
	c := New(DefaultLaw(), 250*time.Millisecond)
	task := c.Task("catchup", 100, 20_000, 5000)
	q := &meanQueue{}
	c.SetQueueing(Queue{Name: "runqueue", Target: 100 * time.Microsecond, Read: q.read})
	now := time.Unix(0, 0)
	for i := range 40 * (maxStretch + 1) {
		d := 50 * time.Microsecond
		if i%(maxStretch+1) == 3 {
			d = 450 * time.Microsecond
		}
		q.period(d)
		now = now.Add(250 * time.Millisecond)
		c.Tick(now)
	}
	if r := task.Rate(); r != 20_000 {
		t.Fatalf("rate %.0f after 40 windows whose mean wait (94 µs) was under the 100 µs target, want the ceiling", r)
	}
}

func TestLatencyAndQueueingBothBackOff(t *testing.T) {
	law := DefaultLaw()
	law.Target = 2 * time.Millisecond
	c := New(law, 250*time.Millisecond)
	task := c.Task("handoff", 10, 1000, 100)
	q := &fakeQueue{delay: 10 * time.Microsecond, ok: true}
	c.SetQueueing(Queue{Name: "sched_p99", Target: time.Millisecond, Read: q.read})
	now := time.Unix(0, 0)
	window := func(latency time.Duration) { now = busyWindow(c, now, latency) }
	window(5 * time.Millisecond) // late, not queued
	q.delay = 5 * time.Millisecond
	window(time.Millisecond) // queued, not late
	window(5 * time.Millisecond)
	st := stats(c.Stats(now))
	if task.Rate() != 125 || st["bg_backoffs_latency"] != "2" || st["bg_backoffs_queueing"] != "1" {
		t.Fatalf("rate %.0f, stats %v: want 125 after three halvings, two for latency (it wins a tie) and one for queueing", task.Rate(), st)
	}
	if st["bg_queue_sched_p99_us"] != "5000" {
		t.Fatalf("bg_queue_sched_p99_us %q, want the last reading, 5000", st["bg_queue_sched_p99_us"])
	}
}

func TestSchedLatenciesCountsThisProcessesWaits(t *testing.T) {
	read := SchedLatencies()
	pingPong(5000)
	d, ok := read()
	if !ok {
		t.Fatalf("no reading after 5,000 goroutine hand-offs (got %v)", d)
	}
	if d <= 0 || d > time.Minute {
		t.Fatalf("p99 wait %v, want a positive duration under a minute", d)
	}
}

func TestRunQueueWaitReadsTheKernelsTotals(t *testing.T) {
	if runtime.GOOS != "linux" {
		if RunQueueWait() != nil {
			t.Fatal("a reader where the kernel keeps no schedstat")
		}
		t.Skip("schedstat is Linux's")
	}
	w0, s0, ok := runQueueTotals()
	if !ok {
		t.Skip("this kernel keeps no schedstat")
	}
	for range 50 { // each sleep parks a thread: a new time slice when it wakes
		time.Sleep(time.Millisecond)
	}
	w1, s1, ok := runQueueTotals()
	if !ok || s1 <= s0 || w1 < w0 {
		t.Fatalf("totals went from %d ns over %d slices to %d ns over %d (ok %v): want more slices", w0, s0, w1, s1, ok)
	}
	if RunQueueWait() == nil {
		t.Fatal("no reader where runQueueTotals reads")
	}
}

// pingPong hands a token between two goroutines n times.
func pingPong(n int) {
	a, b := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range n {
			<-a
			b <- struct{}{}
		}
	}()
	for range n {
		a <- struct{}{}
		<-b
	}
	wg.Wait()
}

func stats(list []kv.Stat) map[string]string {
	m := map[string]string{}
	for _, s := range list {
		if strings.HasPrefix(s.Name, "bg_") {
			m[s.Name] = s.Value
		}
	}
	return m
}

// A task that follows latency only (the store's compactions) is not slowed
// by queueing, and is by latency.
func TestLatencyOnlyTaskIgnoresQueueing(t *testing.T) {
	law := DefaultLaw()
	law.Target = 2 * time.Millisecond
	c := New(law, 250*time.Millisecond)
	other := c.Task("catchup", 10, 1000, 100)
	compact := c.Task("compact", 10, 1000, 100)
	compact.FollowLatencyOnly()
	q := &fakeQueue{delay: 5 * time.Millisecond, ok: true}
	c.SetQueueing(Queue{Name: "runqueue", Target: time.Millisecond, Read: q.read})
	now := time.Unix(0, 0)
	window := func(latency time.Duration) { now = busyWindow(c, now, latency) }
	window(time.Millisecond) // queued, not late
	if other.Rate() != 500 || compact.Rate() != 1000 {
		t.Fatalf("after a queued window: catchup %.0f, compact %.0f; want 500 and 1000", other.Rate(), compact.Rate())
	}
	window(5 * time.Millisecond) // late
	if other.Rate() != 250 || compact.Rate() != 500 {
		t.Fatalf("after a late window: catchup %.0f, compact %.0f; want 250 and 500", other.Rate(), compact.Rate())
	}
}

// busyWindow records 300 foreground requests at latency (enough to close
// a window) and ticks once, 250 ms after now, which it returns.
func busyWindow(c *Controller, now time.Time, latency time.Duration) time.Time {
	for range 300 {
		c.Foreground.Record(latency)
	}
	now = now.Add(250 * time.Millisecond)
	c.Tick(now)
	return now
}
