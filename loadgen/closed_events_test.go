package loadgen

import (
	"bufio"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/evloop"
	"github.com/dynamo-kv/dynamo/loadgen/fakeserver"
	"github.com/dynamo-kv/dynamo/loadgen/report"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
)

// closedDrivers are the closed-loop drivers this platform has.
func closedDrivers() []IOMode {
	if evloop.Supported {
		return []IOMode{IOEpoll, IOGoroutines}
	}
	return []IOMode{IOGoroutines}
}

func ioOf(t *testing.T, s *report.Summary) string {
	t.Helper()
	p, ok := s.Workload.(Params)
	if !ok {
		t.Fatalf("summary workload is %T, want Params", s.Workload)
	}
	return p.IO
}

// Both drivers, over real loopback sockets, account every operation of
// every kind exactly once, with one latency sample each.
func TestClosedDriversAccountEveryOperation(t *testing.T) {
	for _, io := range closedDrivers() {
		t.Run(string(io), func(t *testing.T) {
			addr, srv := startFake(t, fakeserver.Options{})
			const ops = 8000
			res := run(t, Config{Targets: []string{addr}, Conns: 6, Workers: 2, Pipeline: 4, Ops: ops,
				Mix: mustMix(t, "get=6,set=2,delete=1,cart=1"), Keys: workload.KeySpec{Keys: 500}, IO: io})
			s := res.Summary
			if got := ioOf(t, s); got != string(io) {
				t.Fatalf("ran on %q, asked for %q", got, io)
			}
			if s.Ops != ops || s.All.Failed != 0 {
				t.Fatalf("ops %d failed %d, want %d and 0", s.Ops, s.All.Failed, ops)
			}
			checkCounts(t, res, ops, report.Get, report.Set, report.Delete, report.Cart)
			// A cart is a getv and a putv: the server saw one request per
			// operation plus one per cart.
			if want := ops + op(s, "cart").Count; srv.Requests() != want {
				t.Errorf("server saw %d requests, want %d", srv.Requests(), want)
			}
		})
	}
}

// Values far larger than a socket buffer, pipelined, make every flush a
// short write that the event loop resumes when the socket drains.
func TestEventLoopResumesShortWrites(t *testing.T) {
	if !evloop.Supported {
		t.Skip("no event loop on this platform")
	}
	addr, srv := startFake(t, fakeserver.Options{})
	const size = 1 << 20
	short := shortWrites.Load()
	res := run(t, Config{Targets: []string{addr}, Conns: 2, Pipeline: 16, Ops: 64, IO: IOEpoll,
		Mix: mustMix(t, "set=1"), ValueSize: workload.SizeRange{Min: size, Max: size}, Keys: workload.KeySpec{Keys: 4},
		Timeout: 20 * time.Second})
	s := res.Summary
	if ioOf(t, s) != string(IOEpoll) || s.Ops != 64 || s.All.Failed != 0 || op(s, "set").Count != 64 {
		t.Fatalf("io %s ops %d failed %d sets %d; errors %v", ioOf(t, s), s.Ops, s.All.Failed, op(s, "set").Count, s.Errors)
	}
	if srv.Requests() != 64 {
		t.Errorf("server saw %d requests, want 64", srv.Requests())
	}
	if shortWrites.Load() == short {
		t.Error("no flush was cut short: the test did not exercise the resumption")
	}
}

// A server that drops connections mid-request: the event loop fails what
// was outstanding, and the session goes on after a redial.
func TestEventLoopConnectionLossIsCountedAndRecovered(t *testing.T) {
	if !evloop.Supported {
		t.Skip("no event loop on this platform")
	}
	addr, _ := startFake(t, fakeserver.Options{CloseAfter: 40})
	res := run(t, Config{Targets: []string{addr}, Conns: 4, Pipeline: 2, Duration: 500 * time.Millisecond, IO: IOEpoll,
		Mix: mustMix(t, "get=3,set=1,cart=1"), Keys: workload.KeySpec{Keys: 100}})
	s := res.Summary
	if s.Errors["connection"] == 0 || s.Reconnects == 0 {
		t.Errorf("errors %v, reconnects %d; want connection errors and reconnects", s.Errors, s.Reconnects)
	}
	if s.All.Count < 100 || s.Ops != s.All.Count+s.All.Failed {
		t.Errorf("ops %d ok %d failed %d", s.Ops, s.All.Count, s.All.Failed)
	}
}

// With a quota, the operations a failed connection leaves undone are done
// after the redial: the run still ends with exactly the quota.
func TestEventLoopHandsOffTheRestOfTheQuota(t *testing.T) {
	if !evloop.Supported {
		t.Skip("no event loop on this platform")
	}
	addr, _ := startFake(t, fakeserver.Options{CloseAfter: 300})
	res := run(t, Config{Targets: []string{addr}, Conns: 2, Ops: 2000, IO: IOEpoll, Mix: mustMix(t, "get=1")})
	s := res.Summary
	if s.Ops != 2000 || s.All.Failed == 0 || s.Reconnects == 0 {
		t.Errorf("ops %d failed %d reconnects %d; want 2000 with failures and reconnects", s.Ops, s.All.Failed, s.Reconnects)
	}
}

func TestEventLoopTimeout(t *testing.T) {
	if !evloop.Supported {
		t.Skip("no event loop on this platform")
	}
	addr, _ := startFake(t, fakeserver.Options{StallAfter: 100 * time.Millisecond, StallFor: 800 * time.Millisecond})
	start := time.Now()
	res := run(t, Config{Targets: []string{addr}, Conns: 2, Duration: 700 * time.Millisecond, IO: IOEpoll,
		Timeout: 150 * time.Millisecond, Mix: mustMix(t, "get=1")})
	if res.Summary.Errors["timeout"] == 0 {
		t.Fatalf("errors %v: want timeouts", res.Summary.Errors)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("run took %v: a stalled connection held the loop", el)
	}
}

// pipeConn has no descriptor, so the event loop cannot take it over.
type pipeConn struct{ net.Conn }

// Connections the loop cannot take over run on goroutines beside those it
// does, and the report says so.
func TestMixedDrivers(t *testing.T) {
	if !evloop.Supported {
		t.Skip("no event loop on this platform")
	}
	addr, _ := startFake(t, fakeserver.Options{})
	var n atomic.Int64
	dial := func(ctx context.Context, a string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", a)
		if err == nil && n.Add(1)%2 == 0 {
			return pipeConn{nc}, nil
		}
		return nc, err
	}
	res := run(t, Config{Targets: []string{addr}, Conns: 4, Ops: 4000, Dial: dial, Mix: mustMix(t, "get=1,set=1")})
	s := res.Summary
	if got := ioOf(t, s); got != "epoll+goroutines" {
		t.Errorf("io %q, want epoll+goroutines", got)
	}
	if s.Ops != 4000 || s.All.Failed != 0 {
		t.Errorf("ops %d failed %d", s.Ops, s.All.Failed)
	}
}

// A round driven by goroutines after one driven by event loops gets its
// connections back on Go's netpoller intact: nothing fails, nothing is
// redialled.
func TestGoroutineRoundAfterLoopRound(t *testing.T) {
	if !evloop.Supported {
		t.Skip("no event loop on this platform")
	}
	addr, _ := startFake(t, fakeserver.Options{})
	cfg := Config{Targets: []string{addr}, Conns: 3, Ops: 900, Mix: mustMix(t, "get=1,set=1")}
	cfg.EnsureDefaults()
	sh, err := newShared(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := newGroup(&cfg, sh, "", cfg.Targets, 0)
	if err := g.connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g.close()
	for _, io := range []IOMode{IOEpoll, IOGoroutines, IOEpoll} {
		cfg.IO = io
		s := g.measure(context.Background()).Summary
		if got := ioOf(t, s); got != string(io) || s.Ops != 900 || s.All.Failed != 0 || s.Reconnects != 0 {
			t.Fatalf("round on %s: ran on %s, ops %d failed %d reconnects %d", io, got, s.Ops, s.All.Failed, s.Reconnects)
		}
	}
}

// One connection meets its quota fast and the server then closes it, as an
// idle timeout or a restart would; the other is slow. The finished
// connection's hang-up must not wake the loop again and again while the
// slow one finishes: level-triggered epoll reports it on every wait until
// the socket leaves the interest set.
func TestFinishedConnectionDoesNotWakeTheLoop(t *testing.T) {
	if !evloop.Supported {
		t.Skip("no event loop on this platform")
	}
	const quota = 25
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fast := accepted.Add(1) == 1
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for i := 1; ; i++ {
					if _, err := r.ReadSlice('\n'); err != nil {
						return
					}
					if !fast {
						time.Sleep(10 * time.Millisecond)
					}
					c.Write([]byte("END\r\n"))
					if fast && i == quota {
						return
					}
				}
			}()
		}
	}()
	before := loopEvents.Load()
	res := run(t, Config{Targets: []string{ln.Addr().String()}, Conns: 2, Workers: 1, Ops: 2 * quota, IO: IOEpoll,
		Mix: mustMix(t, "get=1"), Keys: workload.KeySpec{Keys: 10}})
	if s := res.Summary; s.Ops != 2*quota || s.All.Failed != 0 {
		t.Fatalf("ops %d failed %d", s.Ops, s.All.Failed)
	}
	// About one event per reply; a spinning loop sees thousands.
	if events := loopEvents.Load() - before; events > 10*2*quota {
		t.Errorf("%d readiness events for %d replies: the loop was woken by a finished connection", events, 2*quota)
	}
}
