package admit

import (
	"bytes"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"time"
)

// Queue is one queueing signal: how long this process's work waited for
// a CPU over the controller's last window. A window in which Read says
// more than Target backs every task off, on a node with clients or without (a
// joiner that serves none still takes the cores its peers' clients wait
// for).
type Queue struct {
	Name   string // for stats: bg_queue_NAME_us
	Target time.Duration
	// Read returns the delay since its last call, and false when there
	// was too little to judge.
	Read func() (time.Duration, bool)
}

// minWaits is the fewest waits a window needs for its delay to count
// (the runtime records one goroutine wait in eight).
const minWaits = 200

// SchedLatencies reads the Go runtime's histogram of how long goroutines
// waited, runnable, for a P: the 99th percentile since the last call. It
// sees the process's own oversubscription (more runnable goroutines than
// GOMAXPROCS), not other processes holding the cores: with two busy loops
// beside a 3-node cluster on two cores its p99 stayed at 150–300 µs while
// the clients' p99 tripled. RunQueueWait sees those.
func SchedLatencies() func() (time.Duration, bool) {
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	var prev, cur Snapshot
	read := func(dst *Snapshot) bool {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindFloat64Histogram {
			return false
		}
		*dst = Snapshot{}
		h := sample[0].Value.Float64Histogram()
		for i, n := range h.Counts {
			if n == 0 {
				continue
			}
			// Counted at the bucket's lower bound: a p99 that errs low by
			// less than a bucket's width.
			ns := max(0, h.Buckets[i]) * float64(time.Second)
			dst[bucketOf(uint64(min(ns, math.MaxInt64)))] += n
		}
		return true
	}
	read(&prev)
	return func() (time.Duration, bool) {
		if !read(&cur) {
			return 0, false
		}
		w := Between(&prev, &cur)
		prev = cur
		return w.P99, w.Count >= minWaits
	}
}

// RunQueueWait reads how long this process's threads waited on the
// kernel's run queues per time slice they ran, on average since the last
// call (Linux's schedstat, summed over /proc/self/task): the queueing
// every thread of the process meets when the machine's cores are
// oversubscribed, by this process or any other. Nil where the kernel does
// not keep it. Measured on the 2-core machine bench-join runs on: about
// 70 µs with three nodes serving 1,930 requests a second, about 145 µs
// while a fourth joined, 100–130 µs with two busy loops beside three.
func RunQueueWait() func() (time.Duration, bool) {
	var prevWait, prevSlices uint64
	var ok bool
	if prevWait, prevSlices, ok = runQueueTotals(); !ok {
		return nil
	}
	return func() (time.Duration, bool) {
		wait, slices, ok := runQueueTotals()
		if !ok {
			return 0, false
		}
		dw, ds := wait-prevWait, slices-prevSlices
		shrank := slices < prevSlices || wait < prevWait
		prevWait, prevSlices = wait, slices // a new baseline either way
		if shrank {
			return 0, false // a thread ended: its totals left the sums
		}
		if ds < minWaits {
			return 0, false
		}
		return time.Duration(dw / ds), true
	}
}

// runQueueTotals sums the run-queue wait (ns) and the time slices of every
// thread of this process.
func runQueueTotals() (wait, slices uint64, ok bool) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, 0, false
	}
	buf := make([]byte, 0, 128)
	for _, t := range tasks {
		f, err := os.Open("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended
		}
		n, _ := f.Read(buf[:cap(buf)])
		f.Close()
		// "<ns on cpu> <ns waiting on a run queue> <time slices>"
		fields := bytes.Fields(buf[:n])
		if len(fields) < 3 {
			continue
		}
		w, err1 := strconv.ParseUint(string(fields[1]), 10, 64)
		s, err2 := strconv.ParseUint(string(fields[2]), 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		wait += w
		slices += s
		ok = true
	}
	return wait, slices, ok
}
