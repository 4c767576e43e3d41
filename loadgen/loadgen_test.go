package loadgen

import (
	"context"
	"errors"
	"math"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dynamo-kv/dynamo/loadgen/client"
	"github.com/dynamo-kv/dynamo/loadgen/fakeserver"
	"github.com/dynamo-kv/dynamo/loadgen/report"
	"github.com/dynamo-kv/dynamo/loadgen/sla"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
)

func startFake(t *testing.T, opts fakeserver.Options) (string, *fakeserver.Server) {
	t.Helper()
	addr, srv, stop, err := fakeserver.Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr, srv
}

func mustMix(t *testing.T, s string) workload.Mix {
	t.Helper()
	m, err := workload.ParseMix(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func op(s *report.Summary, name string) report.OpStats {
	for _, o := range s.PerOp {
		if o.Op == name {
			return o
		}
	}
	return report.OpStats{Op: name}
}

// checkCounts checks that the operations of kinds have one latency sample
// per reply and add up to ops.
func checkCounts(t *testing.T, res *Result, ops int64, kinds ...report.Kind) {
	t.Helper()
	var sum int64
	for _, k := range kinds {
		o := op(res.Summary, k.String())
		if o.Count != res.Hists.Count(k) {
			t.Errorf("%s: %d replies but %d latency samples", k, o.Count, res.Hists.Count(k))
		}
		sum += o.Count
	}
	if sum != ops {
		t.Errorf("per-op counts sum to %d, want %d", sum, ops)
	}
}

func TestClosedLoopCountsAddUp(t *testing.T) {
	addr, srv := startFake(t, fakeserver.Options{})
	const ops = 6000
	res := run(t, Config{
		Targets: []string{addr}, Conns: 4, Pipeline: 4, Ops: ops, Warmup: 50 * time.Millisecond,
		Mix: mustMix(t, "get=6,set=2,delete=1"), Keys: workload.KeySpec{Keys: 1000}, Preload: 500,
	})
	s := res.Summary
	if s.Mode != report.ClosedLoop || s.Ops != ops || s.All.Failed != 0 {
		t.Fatalf("mode %s ops %d failed %d", s.Mode, s.Ops, s.All.Failed)
	}
	// The warm-up's operations reached the server but are not counted.
	if got := srv.Requests(); got < ops+500 {
		t.Errorf("server saw %d requests, fewer than preload + measured", got)
	}
	checkCounts(t, res, ops, report.Get, report.Set, report.Delete)
	// Mix proportions within 5σ.
	for name, p := range map[string]float64{"get": 6.0 / 9, "set": 2.0 / 9, "delete": 1.0 / 9} {
		n := float64(op(s, name).Count)
		if sd := math.Sqrt(ops * p * (1 - p)); math.Abs(n-ops*p) > 5*sd {
			t.Errorf("%s: %v ops, want %.0f ± %.0f", name, n, ops*p, 5*sd)
		}
	}
	// Half the keys were never written, and deletes remove keys: both miss.
	if op(s, "get").Misses == 0 || op(s, "delete").Misses == 0 {
		t.Errorf("expected get and delete misses: %+v", s.PerOp)
	}
	if s.CPU.UserSec+s.CPU.SysSec <= 0 || s.Throughput <= 0 {
		t.Errorf("cpu %+v throughput %v", s.CPU, s.Throughput)
	}
}

// A cart read-modify-write that is never concurrent with another on the
// same key always supersedes what it read: no siblings. Concurrent carts
// on a few keys create them, and the count is reported.
func TestCartSiblings(t *testing.T) {
	for _, tc := range []struct {
		name            string
		conns, pipeline int
		keys            uint64
		wantSiblings    bool
	}{
		{"sequential", 1, 1, 50, false},
		{"concurrent", 4, 8, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startFake(t, fakeserver.Options{})
			res := run(t, Config{Targets: []string{addr}, Conns: tc.conns, Pipeline: tc.pipeline, Ops: 2000,
				Mix: mustMix(t, "cart=1"), Keys: workload.KeySpec{Keys: tc.keys}})
			s := res.Summary
			cart, getv, putv := op(s, "cart"), op(s, "getv"), op(s, "putv")
			if cart.Count != 2000 || getv.Count != 2000 || putv.Count != 2000 || s.All.Failed != 0 {
				t.Fatalf("cart %d getv %d putv %d failed %d", cart.Count, getv.Count, putv.Count, s.All.Failed)
			}
			if s.Siblings == nil || s.Siblings.Reads != 2000 {
				t.Fatalf("siblings %+v", s.Siblings)
			}
			multi := s.Siblings.Total - s.Siblings.ByN["1"]
			if got := multi > 0; got != tc.wantSiblings {
				t.Errorf("siblings by count %v: multi-sibling reads %v, want %v", s.Siblings.ByN, got, tc.wantSiblings)
			}
			if cart.P50Us < getv.P50Us {
				t.Errorf("a cart (p50 %v) cannot be faster than its getv (p50 %v)", cart.P50Us, getv.P50Us)
			}
			checkCartValue(t, addr, tc.keys)
		})
	}
}

// checkCartValue reads a cart back: its siblings hold item lists.
func checkCartValue(t *testing.T, addr string, keys uint64) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := client.NewConn(nc, client.Options{})
	c.Getv([]byte("key:0"))
	c.Flush()
	var r client.Response
	if err := c.Next(client.ReplyGetv, &r); err != nil || len(r.Siblings) == 0 {
		t.Fatalf("getv key:0: %v, %d siblings", err, len(r.Siblings))
	}
	if items := workload.AppendItems(nil, r.Siblings[0].Value); len(items) == 0 {
		t.Errorf("cart value %q holds no items", r.Siblings[0].Value)
	}
}

// countAtLeast is the number of samples of h at or above v.
func countAtLeast(h *hdrhistogram.Histogram, v int64) int64 {
	var n int64
	for _, b := range h.Distribution() {
		if b.From >= v {
			n += b.Count
		}
	}
	return n
}

// The coordinated-omission test, in fake time (testing/synctest over an
// in-memory transport) so that no host noise can blur it: one 200ms stall of
// the whole server. An open-loop run keeps its schedule, so every request
// due during the stall is timed from when it should have left and the stall
// fills the tail. A closed-loop run stops issuing during the stall, so only
// the requests already in flight see it, and the report says closed loop.
func TestCoordinatedOmissionInFakeTime(t *testing.T) {
	const (
		stall    = 200 * time.Millisecond
		conns    = 4
		pipeline = 4
		rate     = 2000.0
	)
	cfg := Config{Targets: []string{"mem:1"}, Conns: conns, Pipeline: pipeline, Duration: 1200 * time.Millisecond,
		Mix: mustMix(t, "get=1"), Keys: workload.KeySpec{Keys: 100}}
	server := func() *fakeserver.Server {
		return fakeserver.New(fakeserver.Options{StallAfter: 400 * time.Millisecond, StallFor: stall,
			ServiceTime: 200 * time.Microsecond})
	}
	var openDelayed int64
	synctest.Test(t, func(t *testing.T) {
		open := cfg
		open.Rate, open.Dial = rate, memDialer(server())
		o := run(t, open)
		h := o.Hists[report.Get]
		openDelayed = countAtLeast(h, int64(stall/2))
		// The requests due in the stall's first half, rate × stall/2 = 200,
		// waited at least stall/2; the first of them almost the whole stall.
		if openDelayed < 190 || openDelayed > 260 {
			t.Errorf("open loop: %d of %d samples ≥ %v, want about 200", openDelayed, h.TotalCount(), stall/2)
		}
		if p999, maxNs := h.ValueAtQuantile(99.9), h.Max(); p999 < int64(stall*9/10) || maxNs > int64(stall*11/10) {
			t.Errorf("open loop: p99.9 %v max %v, want about %v", time.Duration(p999), time.Duration(maxNs), stall)
		}
		if n := o.Summary.Ops; n < rate*1.2-conns || n > rate*1.2+conns || o.Summary.Mode != report.OpenLoop {
			t.Errorf("open loop: %d ops (%s), want the schedule's %v", n, o.Summary.Mode, rate*1.2)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		closed := cfg
		closed.Dial = memDialer(server())
		c := run(t, closed)
		hc := c.Hists[report.Get]
		if c.Summary.Mode != report.ClosedLoop || c.Summary.ModeNote == "" {
			t.Errorf("closed-loop run labelled %q", c.Summary.Mode)
		}
		// Only the conns × pipeline requests in flight when it stalled saw it.
		if slow := countAtLeast(hc, int64(stall/2)); slow < 1 || slow > conns*pipeline {
			t.Errorf("closed loop: %d slow samples of %d, want 1..%d; open loop had %d",
				slow, hc.TotalCount(), conns*pipeline, openDelayed)
		}
	})
}

// The same stall over real TCP and real time: host noise can only add
// delay, so the open-loop bound holds on a busy machine too.
func TestOpenLoopShowsStallOverTCP(t *testing.T) {
	const stall = 200 * time.Millisecond
	addr, _ := startFake(t, fakeserver.Options{StallAfter: 400 * time.Millisecond, StallFor: stall})
	o := run(t, Config{Targets: []string{addr}, Conns: 4, Pipeline: 4, Duration: 1200 * time.Millisecond,
		Rate: 2000, Mix: mustMix(t, "get=1"), Keys: workload.KeySpec{Keys: 100}})
	h := o.Hists[report.Get]
	if delayed := countAtLeast(h, int64(stall/2)); delayed < 150 {
		t.Errorf("open loop: only %d of %d samples ≥ %v; the stall is hidden", delayed, h.TotalCount(), stall/2)
	}
	if p999 := h.ValueAtQuantile(99.9); p999 < int64(stall*3/4) {
		t.Errorf("open loop: p99.9 %v, want ≥ %v", time.Duration(p999), stall*3/4)
	}
}

// faultyDialer hands out connections of which every failEvery-th dies
// after a few reads, to exercise failure accounting and reconnects.
type faultyDialer struct {
	n         atomic.Int64
	failEvery int64
}

func (d *faultyDialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil || d.n.Add(1)%d.failEvery != 0 {
		return nc, err
	}
	return &dyingConn{Conn: nc, readsLeft: 20}, nil
}

type dyingConn struct {
	net.Conn
	readsLeft int
}

func (c *dyingConn) Read(p []byte) (int, error) {
	if c.readsLeft == 0 {
		c.Conn.Close()
		return 0, errors.New("injected connection reset")
	}
	c.readsLeft--
	return c.Conn.Read(p)
}

func TestConnectionLossIsCountedAndRecovered(t *testing.T) {
	for _, rate := range []float64{0, 4000} {
		addr, _ := startFake(t, fakeserver.Options{})
		d := &faultyDialer{failEvery: 2}
		res := run(t, Config{Targets: []string{addr}, Conns: 4, Pipeline: 2, Duration: 600 * time.Millisecond,
			Rate: rate, Mix: mustMix(t, "get=3,set=1,cart=1"), Keys: workload.KeySpec{Keys: 100}, Dial: d.dial})
		s := res.Summary
		if s.Errors["connection"] == 0 || s.Reconnects == 0 {
			t.Errorf("rate %v: errors %v, reconnects %d; want connection errors and reconnects", rate, s.Errors, s.Reconnects)
		}
		if s.All.Count == 0 || s.Ops != s.All.Count+s.All.Failed {
			t.Errorf("rate %v: ops %d ok %d failed %d", rate, s.Ops, s.All.Count, s.All.Failed)
		}
	}
}

func TestTimeoutIsAnError(t *testing.T) {
	addr, _ := startFake(t, fakeserver.Options{StallAfter: 100 * time.Millisecond, StallFor: 800 * time.Millisecond})
	res := run(t, Config{Targets: []string{addr}, Conns: 2, Duration: 700 * time.Millisecond,
		Timeout: 150 * time.Millisecond, Mix: mustMix(t, "get=1")})
	if res.Summary.Errors["timeout"] == 0 {
		t.Fatalf("errors %v: want timeouts", res.Summary.Errors)
	}
	// Failed operations count as infinitely slow for the SLA.
	v := report.JudgeSLA(mustRules(t, "p99<10s"), res.Hists, &report.Counters{
		OK: [report.NumKinds]int64{report.Get: res.Summary.All.Count}, Errors: [report.NumKinds][report.NumErrKinds]int64{
			report.Get: {report.ErrTimeout: res.Summary.Errors["timeout"] * 1000}}})
	if v[0].Pass {
		t.Errorf("SLA passed despite timeouts: %+v", v[0])
	}
}

func mustRules(t *testing.T, s string) []sla.Rule {
	t.Helper()
	r, err := sla.Parse(s, report.KindNames())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSLAVerdict(t *testing.T) {
	addr, _ := startFake(t, fakeserver.Options{})
	res := run(t, Config{Targets: []string{addr}, Conns: 2, Ops: 500,
		SLA: mustRules(t, "p99<10s,get:p50<1ns,errors<1%")})
	s := res.Summary
	if s.SLAPass == nil || *s.SLAPass || len(s.SLA) != 3 {
		t.Fatalf("sla %+v", s.SLA)
	}
	if !s.SLA[0].Pass || s.SLA[1].Pass || !s.SLA[2].Pass {
		t.Errorf("verdicts %+v", s.SLA)
	}
}

func TestUnreachableTarget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = Run(context.Background(), Config{Targets: []string{addr}, Conns: 1, DialTimeout: time.Second})
	if !errors.Is(err, ErrConnect) {
		t.Fatalf("got %v, want ErrConnect", err)
	}
}

func TestConfigValidation(t *testing.T) {
	good := Config{Targets: []string{"127.0.0.1:1"}}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no target", func(c *Config) { c.Targets = nil }},
		{"bad target", func(c *Config) { c.Targets = []string{"localhost"} }},
		{"workers above conns", func(c *Config) { c.Conns, c.Workers = 2, 3 }},
		{"negative rate", func(c *Config) { c.Rate = -1 }},
		{"preload beyond keys", func(c *Config) { c.Keys.Keys, c.Preload = 10, 11 }},
		{"ops below conns", func(c *Config) { c.Conns, c.Ops = 8, 3 }},
		{"bad distribution", func(c *Config) { c.Keys.Distribution = "normal" }},
		{"bad value size", func(c *Config) { c.ValueSize = workload.SizeRange{Min: 10, Max: 5} }},
		{"prefix with space", func(c *Config) { c.KeyPrefix = "a b" }},
	} {
		c := good
		tc.edit(&c)
		if _, err := Run(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", tc.name, err)
		}
	}
}

func TestCompareAlternatesAndTakesMedians(t *testing.T) {
	a, _ := startFake(t, fakeserver.Options{})
	b, srvB := startFake(t, fakeserver.Options{Null: true})
	targets, err := ParseNamedTargets("store=" + a + ",null=" + b)
	if err != nil {
		t.Fatal(err)
	}
	cmp, err := Compare(context.Background(), Config{Conns: 2, Duration: 150 * time.Millisecond, Preload: 100,
		Keys: workload.KeySpec{Keys: 100}}, targets, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Targets) != 2 || cmp.Rounds != 3 || cmp.Ratio == nil {
		t.Fatalf("comparison %+v", cmp)
	}
	for _, tg := range cmp.Targets {
		if len(tg.Rounds) != 3 || tg.Throughput <= 0 || tg.Rounds[0].Label != tg.Name {
			t.Errorf("target %s: %d rounds, throughput %v", tg.Name, len(tg.Rounds), tg.Throughput)
		}
	}
	// The null server stores nothing, so every get there misses; the
	// preloaded store hits.
	if op(cmp.Targets[0].Rounds[0], "get").Misses != 0 || op(cmp.Targets[1].Rounds[0], "get").Misses == 0 {
		t.Errorf("misses: store %d, null %d", op(cmp.Targets[0].Rounds[0], "get").Misses, op(cmp.Targets[1].Rounds[0], "get").Misses)
	}
	if srvB.Requests() < 100 {
		t.Errorf("null target was preloaded and driven with only %d requests", srvB.Requests())
	}
	if _, err := ParseNamedTargets("only=" + a); !errors.Is(err, ErrConfig) {
		t.Errorf("one compare target accepted: %v", err)
	}
}

func TestRoundOrderIsABBA(t *testing.T) {
	if got := roundOrder(2, 0); got[0] != 0 || got[1] != 1 {
		t.Errorf("round 0: %v", got)
	}
	if got := roundOrder(2, 1); got[0] != 1 || got[1] != 0 {
		t.Errorf("round 1: %v", got)
	}
}

func TestQuotaSplitsExactly(t *testing.T) {
	for _, tc := range []struct {
		total int64
		n     int
	}{{10, 3}, {7, 7}, {1000, 16}} {
		var sum int64
		for i := range tc.n {
			sum += quota(tc.total, tc.n, i)
		}
		if sum != tc.total {
			t.Errorf("quota(%d, %d) sums to %d", tc.total, tc.n, sum)
		}
	}
}

// The timeline says when the tail happened: the second holding a stall
// shows it as its slowest request, the second before does not.
func TestTimelineLocatesAStall(t *testing.T) {
	const stall = 300 * time.Millisecond
	addr, _ := startFake(t, fakeserver.Options{StallAfter: 1300 * time.Millisecond, StallFor: stall})
	res := run(t, Config{Targets: []string{addr}, Conns: 4, Pipeline: 4, Duration: 2500 * time.Millisecond,
		Rate: 2000, Mix: mustMix(t, "get=1"), Keys: workload.KeySpec{Keys: 100}})
	tl := res.Summary.Timeline
	if len(tl) < 2 {
		t.Fatalf("timeline %+v", tl)
	}
	if tl[0].MaxMs <= 0 || tl[0].MaxMs >= float64(stall/2)/1e6 {
		t.Errorf("first second: slowest %.1f ms, want a positive figure well under the %v stall", tl[0].MaxMs, stall)
	}
	if tl[1].MaxMs < float64(stall*2/3)/1e6 {
		t.Errorf("second second (stall at 1.3 s): slowest %.1f ms, want ≥ %v", tl[1].MaxMs, stall*2/3)
	}
}
