package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/evloop"
	"github.com/dynamo-kv/dynamo/loadgen/report"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
	"github.com/dynamo-kv/dynamo/protocol/ringclient"
)

// Result is the outcome of a measured run.
type Result struct {
	Summary *report.Summary
	// Hists are the merged latency histograms (nanoseconds) of the
	// measured window, for .hgrm and SVG output.
	Hists *report.Histograms
}

// Run validates cfg, connects, preloads, warms up, measures and returns the
// result. Cancelling ctx ends the run early with what was measured so far.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sh, err := newShared(&cfg)
	if err != nil {
		return nil, err
	}
	if cfg.RingAware {
		router, err := ringclient.New(ctx, cfg.Targets...)
		if err != nil {
			return nil, fmt.Errorf("%w: -ring-aware: %v", ErrConnect, err)
		}
		cfg.Targets = router.Addrs()
		sh.route = router
	}
	g := newGroup(&cfg, sh, cfg.Label, cfg.Targets, 0)
	if err := g.connect(ctx); err != nil {
		return nil, err
	}
	defer g.close()
	if cfg.Preload > 0 {
		if err := g.preload(ctx); err != nil {
			return nil, err
		}
	}
	return g.measure(ctx), nil
}

func newShared(cfg *Config) (*sharedWorkload, error) {
	keys, err := workload.NewKeyChooser(cfg.Keys)
	if err != nil {
		return nil, err
	}
	return &sharedWorkload{keys: keys, payload: workload.NewPayload(cfg.ValueSize.Max, cfg.Seed), epoch: time.Now()}, nil
}

// measure runs one warm-up plus measured window on the group.
func (g *group) measure(ctx context.Context) *Result {
	cfg := g.cfg
	workers := make([]*worker, cfg.Workers)
	for i := range workers {
		workers[i] = &worker{}
	}
	ph := g.newPhase()
	var wg sync.WaitGroup
	handOff := func(s *session, w *worker, limit int64) {
		wg.Go(func() { s.runClosed(ctx, ph, limit, &recorder{w: w}) })
	}
	loops := make([]*eventLoop, len(workers))
	var onLoops, onGoroutines int
	n := len(g.sessions)
	for i, s := range g.sessions {
		w, limit := workers[i%len(workers)], quota(cfg.Ops, n, i)
		if cfg.OpenLoop() {
			s.reattach()
			offset := float64(i) / float64(n) // spread the connections' schedules over one interval
			wg.Go(func() { s.runOpen(ctx, ph, limit, offset, w) })
			onGoroutines++
			continue
		}
		if el := g.loopFor(ctx, ph, loops, i%len(workers), w, handOff); el != nil {
			if sock, ok := s.detachForLoop(); ok {
				el.add(s, sock, limit)
				onLoops++
				continue
			}
		}
		s.reattach()
		wg.Go(func() { s.runClosed(ctx, ph, limit, &recorder{w: w}) })
		onGoroutines++
	}
	for _, el := range loops {
		if el == nil {
			continue
		}
		if len(el.sessions) == 0 {
			_ = el.loop.Close()
			continue
		}
		wg.Go(el.run)
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	prog := startProgress(g, ph, workers)
	return g.coordinate(ctx, ph, workers, allDone, prog, ioUsed(onLoops, onGoroutines))
}

// loopFor returns worker i's event loop, creating it on first use; nil when
// the run does not use event loops or one cannot be created.
func (g *group) loopFor(ctx context.Context, ph *phase, loops []*eventLoop, i int, w *worker, handOff func(*session, *worker, int64)) *eventLoop {
	if g.cfg.IO == IOGoroutines || !evloop.Supported {
		return nil
	}
	if loops[i] == nil {
		el, err := newEventLoop(ctx, ph, timeoutNanos(g.cfg.Timeout), w, handOff)
		if err != nil {
			return nil
		}
		loops[i] = el
	}
	return loops[i]
}

func timeoutNanos(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d)
}

// ioUsed names the drivers the connections started on, for the report.
func ioUsed(onLoops, onGoroutines int) string {
	switch {
	case onGoroutines == 0:
		return string(IOEpoll)
	case onLoops == 0:
		return string(IOGoroutines)
	}
	return string(IOEpoll) + "+" + string(IOGoroutines)
}

func (g *group) newPhase() *phase {
	cfg := g.cfg
	now := g.sessions[0].now()
	ph := &phase{start: now, measureStart: now + int64(cfg.Warmup), end: maxTime,
		depth: cfg.Pipeline, stop: make(chan struct{})}
	ph.drainUntil = maxTime
	if cfg.Duration > 0 {
		ph.end = ph.measureStart + int64(cfg.Duration)
		ph.drainUntil = ph.end + int64(max(cfg.Timeout, 0))
	}
	if cfg.OpenLoop() {
		ph.interval = float64(len(g.sessions)) / cfg.Rate * 1e9
	}
	return ph
}

// coordinate marks the measured window's start and end, stops the drivers
// at the end or on cancellation, and assembles the result.
func (g *group) coordinate(ctx context.Context, ph *phase, workers []*worker, allDone <-chan struct{}, prog *progress, io string) *Result {
	sessionsNow := g.sessions[0].now
	wait := func(until int64) bool { // false if the run ended or was cancelled first
		t := time.NewTimer(time.Duration(until - sessionsNow()))
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-allDone:
		case <-ctx.Done():
		}
		return false
	}
	started := time.Now()
	measuring := wait(ph.measureStart)
	user0, sys0 := cpuTime()
	switch {
	case !measuring:
	case ph.end != maxTime:
		wait(ph.end)
	default: // counted only: run until every quota is met
		select {
		case <-allDone:
		case <-ctx.Done():
		}
	}
	interrupted := ctx.Err() != nil
	windowEnd := min(sessionsNow(), ph.end)
	close(ph.stop)
	<-allDone
	if ph.end == maxTime && !interrupted { // counted: the window closes with the last reply
		windowEnd = sessionsNow()
	}
	user1, sys1 := cpuTime()
	timeline := prog.finish()
	h, c, lag := collect(workers)
	params := g.cfg.Params()
	params.IO = io
	in := report.Input{
		Label: g.label, Targets: g.targets, OpenLoop: g.cfg.OpenLoop(), Rate: g.cfg.Rate,
		Workload: params, Start: started, Warmup: g.cfg.Warmup,
		CPUUser: user1 - user0, CPUSys: sys1 - sys0, Timeline: timeline, Rules: g.cfg.SLA,
		Stopped: interrupted,
	}
	if measuring {
		in.Window = time.Duration(max(0, windowEnd-ph.measureStart))
	}
	if g.cfg.OpenLoop() {
		in.Lag = lag
	}
	return &Result{Summary: report.Build(in, h, c), Hists: h}
}
