package loadgen

import (
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dynamo-kv/dynamo/loadgen/report"
)

// progress samples the run once a second: it builds the throughput
// timeline and, if Config.Progress is set, prints a live line.
type progress struct {
	g        *group
	ph       *phase
	workers  []*worker
	tail     *hdrhistogram.Histogram
	done     chan struct{}
	finished chan []report.Point
}

func startProgress(g *group, ph *phase, workers []*worker) *progress {
	p := &progress{g: g, ph: ph, workers: workers, tail: report.NewHistogram(),
		done: make(chan struct{}), finished: make(chan []report.Point, 1)}
	go p.loop()
	return p
}

// finish stops sampling and returns the timeline.
func (p *progress) finish() []report.Point {
	close(p.done)
	return <-p.finished
}

func (p *progress) loop() {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	var points []report.Point
	prevT, prevDone, prevFailed := p.ph.start, int64(0), int64(0)
	sample := func(final bool) {
		now := p.g.sessions[0].now()
		if final && now-prevT < int64(200*time.Millisecond) {
			return // too short a tail to give a meaningful rate
		}
		var done, failed int64
		for _, s := range p.g.sessions {
			done += s.done.Load()
			failed += s.failed.Load()
		}
		secs := float64(now-prevT) / 1e9
		mid := (now + prevT) / 2
		pt := report.Point{T: float64(now-p.ph.start) / 1e9, Ops: float64(done-prevDone) / secs,
			Failed: float64(failed-prevFailed) / secs, Measured: mid >= p.ph.measureStart && mid < p.ph.end,
			MaxMs: float64(takeSlowest(p.workers)) / 1e6}
		points = append(points, pt)
		prevT, prevDone, prevFailed = now, done, failed
		stage := "measure"
		switch {
		case mid < p.ph.measureStart:
			stage = "warmup"
		case mid >= p.ph.end:
			stage = "drain"
		}
		p.print(pt, stage, failed)
	}
	for {
		select {
		case <-ticker.C:
			sample(false)
		case <-p.done:
			sample(true)
			p.finished <- points
			return
		}
	}
}

func (p *progress) print(pt report.Point, stage string, failed int64) {
	out := p.g.cfg.Progress
	if out == nil {
		return
	}
	tailNote := ""
	if stage != "warmup" {
		tailSoFar(p.workers, p.tail)
		if p.tail.TotalCount() > 0 {
			tailNote = " p99.9 so far " + report.Micros(float64(p.tail.ValueAtQuantile(99.9))/1e3) +
				", slowest this second " + report.Micros(pt.MaxMs*1e3)
		}
	}
	label := ""
	if p.g.label != "" {
		label = p.g.label + " "
	}
	fmt.Fprintf(out, "loadgen: %s%6.1fs %-7s %10.0f ops/s  %d failed%s\n", label, pt.T, stage, pt.Ops, failed, tailNote)
}
