package loadgen

import (
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
