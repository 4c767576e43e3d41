package loadgen

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dynamo-kv/dynamo/loadgen/report"
)

// worker owns the histograms and counters of a group of connections. The
// connections' goroutines hand it samples in batches, so its mutex is taken
// once per batch rather than once per operation, and the progress reporter
// can read it while the run goes on.
type worker struct {
	mu struct {
		sync.Mutex
		hists    report.Histograms
		counters report.Counters
		lag      *hdrhistogram.Histogram
		// slowest is the largest latency recorded since the progress
		// sampler last took it, for the timeline.
		slowest int64
	}
}

// Batching limits: a recorder hands over its samples when it holds this
// many or when they are this old, which bounds how stale the live progress
// line can be.
const (
	batchSize  = 128
	batchDelay = int64(50 * time.Millisecond)
)

// lagKind marks a schedule-lag sample in a recorder batch.
const lagKind = report.NumKinds

type sample struct {
	kind report.Kind
	ns   int64
}

// recorder buffers one goroutine's samples and counter deltas for its
// worker. It is owned by that goroutine.
type recorder struct {
	w         *worker
	samples   [batchSize]sample
	n         int
	counters  report.Counters
	lastFlush int64
}

func (r *recorder) latency(k report.Kind, ns int64) {
	r.samples[r.n] = sample{kind: k, ns: ns}
	r.n++
	if r.n == batchSize {
		r.flush(r.lastFlush)
	}
}

// tick hands the batch over if it has aged past batchDelay.
func (r *recorder) tick(now int64) {
	if now-r.lastFlush >= batchDelay {
		r.flush(now)
	}
}

func (r *recorder) flush(now int64) {
	r.lastFlush = now
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range r.samples[:r.n] {
		if s.kind == lagKind {
			if w.mu.lag == nil {
				w.mu.lag = report.NewHistogram()
			}
			_ = w.mu.lag.RecordValue(report.Clamp(s.ns))
			continue
		}
		w.mu.hists.Record(s.kind, s.ns)
		w.mu.slowest = max(w.mu.slowest, s.ns)
	}
	r.n = 0
	w.mu.counters.Add(&r.counters)
	r.counters = report.Counters{}
}

// collect merges the workers' results.
func collect(workers []*worker) (*report.Histograms, *report.Counters, *hdrhistogram.Histogram) {
	var h report.Histograms
	var c report.Counters
	lag := report.NewHistogram()
	for _, w := range workers {
		w.mu.Lock()
		h.Merge(&w.mu.hists)
		c.Add(&w.mu.counters)
		if w.mu.lag != nil {
			lag.Merge(w.mu.lag)
		}
		w.mu.Unlock()
	}
	return &h, &c, lag
}

// takeSlowest returns the largest latency the workers recorded since the
// last call, and starts over.
func takeSlowest(workers []*worker) int64 {
	var m int64
	for _, w := range workers {
		w.mu.Lock()
		m = max(m, w.mu.slowest)
		w.mu.slowest = 0
		w.mu.Unlock()
	}
	return m
}

// tailSoFar is the merged histogram of user-level operations, for the
// progress line.
func tailSoFar(workers []*worker, into *hdrhistogram.Histogram) {
	into.Reset()
	for _, w := range workers {
		w.mu.Lock()
		for _, k := range report.UserKinds {
			if h := w.mu.hists[k]; h != nil {
				into.Merge(h)
			}
		}
		w.mu.Unlock()
	}
}
