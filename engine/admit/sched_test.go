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
}

func (f *fakeQueue) read() (time.Duration, bool) { return f.delay, f.ok }

func TestQueueingBacksOffANodeWithoutClients(t *testing.T) {
	c := New(DefaultLaw(), 250*time.Millisecond)
	task := c.Task("catchup", 1000, 20_000, 5000)
	q := &fakeQueue{delay: 300 * time.Microsecond, ok: true}
	c.SetQueueing(Queue{Name: "runqueue", Target: 100 * time.Microsecond, Read: q.read})
	now := time.Unix(0, 0)
	tick := func() { now = now.Add(250 * time.Millisecond); c.Tick(now) }

	// No client request at all: the foreground window stays open, but
	// every period over the queue target halves the rate.
	for _, want := range []float64{10_000, 5000, 2500, 1250, 1000} {
		tick()
		if r := task.Rate(); r != want {
			t.Fatalf("rate %.0f, want %.0f", r, want)
		}
	}
	// Under the target it holds while the window is open, and climbs a
	// step when the window closes, stretched as far as it goes: maxStretch
	// periods after the first of the five above.
	q.delay = 50 * time.Microsecond
	for range maxStretch - 5 {
		tick()
	}
	if r := task.Rate(); r != 1000 {
		t.Fatalf("rate %.0f before the stretched window closed, want 1000", r)
	}
	tick()
	if r := task.Rate(); r != 2000 {
		t.Fatalf("rate %.0f after the window closed under every target, want 2000", r)
	}
	// A period with too few waits to judge says nothing.
	q.delay, q.ok = time.Second, false
	tick()
	if r := task.Rate(); r != 2000 {
		t.Fatalf("rate %.0f after a period too quiet to judge, want it held at 2000", r)
	}
	st := stats(c.Stats(now))
	if st["bg_backoffs_queueing"] != "5" || st["bg_backoffs_latency"] != "0" || st["bg_queue_runqueue_target_us"] != "100" {
		t.Fatalf("stats %v: want 5 queueing backoffs, none for latency, the target 100 µs", st)
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
	window := func(latency time.Duration) {
		for range 300 {
			c.Foreground.Record(latency)
		}
		now = now.Add(250 * time.Millisecond)
		c.Tick(now)
	}
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
