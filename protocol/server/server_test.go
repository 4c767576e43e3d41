package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
)

// start runs a server over kv on a free port; it is shut down at cleanup
// unless the test already did so.
func start(t *testing.T, kv *fakekv.KV, opts Options) *Server {
	t.Helper()
	opts.Listen = "127.0.0.1:0"
	s, err := New(kv, opts)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	<-s.Ready()
	if s.Addr() == nil {
		t.Fatalf("not listening: %v", <-served)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, ErrNotServing) {
			t.Errorf("Shutdown: %v", err)
		}
		<-served
	})
	return s
}

type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, s *Server) *client {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads exactly len(want) bytes and compares.
func (c *client) expect(want string) {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c.r, got); err != nil {
		c.t.Fatalf("read %q: %v (got %q)", want, err, got)
	}
	if string(got) != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// expectEOF waits for the server to close the connection.
func (c *client) expectEOF() {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(c.r)
	if err != nil || len(rest) != 0 {
		c.t.Fatalf("want EOF, got %q, %v", rest, err)
	}
}

func (c *client) stat(name string) int {
	c.t.Helper()
	v, ok := c.stats("stats")[name]
	if !ok {
		return -1
	}
	n, _ := strconv.Atoi(v)
	return n
}

// stats sends cmd (stats, stats settings) and returns its lines as name →
// value.
func (c *client) stats(cmd string) map[string]string {
	c.t.Helper()
	c.send(cmd + "\r\n")
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	out := map[string]string{}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatal(err)
		}
		if line == "END\r\n" {
			return out
		}
		if f := strings.Fields(line); len(f) == 3 {
			out[f[1]] = f[2]
		}
	}
}

func TestManyIdleConnectionsUnderLoad(t *testing.T) {
	const idle, workers, ops = 2000, 8, 300
	kv := fakekv.New(nil)
	s := start(t, kv, Options{MaxConns: idle + workers + 10})
	idlers := make([]*client, idle)
	for i := range idlers {
		idlers[i] = dial(t, s)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- loadWorker(s.Addr().String(), w, ops)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Every idle connection is still served, and in order.
	for i, c := range idlers {
		c.send("get w0:" + strconv.Itoa(i%ops) + "\r\nversion\r\n")
	}
	for i, c := range idlers {
		v := "w0:" + strconv.Itoa(i%ops)
		c.expect("VALUE w0:" + strconv.Itoa(i%ops) + " 0 " + strconv.Itoa(len(v)) + "\r\n" + v + "\r\nEND\r\n")
		c.expect("VERSION 1.6.18-dynamo\r\n")
	}
	if n := idlers[0].stat("curr_connections"); n != idle {
		t.Errorf("curr_connections = %d, want %d", n, idle)
	}
}

// loadWorker pipelines sets and reads them back on its own connection.
func loadWorker(addr string, w, ops int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	var b strings.Builder
	for i := range ops {
		k := fmt.Sprintf("w%d:%d", w, i)
		fmt.Fprintf(&b, "set %s 0 0 %d\r\n%s\r\nget %s\r\n", k, len(k), k, k)
	}
	go func() { _, _ = io.WriteString(c, b.String()) }()
	for i := range ops {
		k := fmt.Sprintf("w%d:%d", w, i)
		want := fmt.Sprintf("STORED\r\nVALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(k), k)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil {
			return fmt.Errorf("worker %d op %d: %w", w, i, err)
		}
		if string(got) != want {
			return fmt.Errorf("worker %d op %d: got %q want %q", w, i, got, want)
		}
	}
	return nil
}

func TestMaxConnsRefusal(t *testing.T) {
	s := start(t, fakekv.New(nil), Options{MaxConns: 2})
	a, b := dial(t, s), dial(t, s)
	a.send("version\r\n")
	a.expect("VERSION 1.6.18-dynamo\r\n")
	b.send("version\r\n")
	b.expect("VERSION 1.6.18-dynamo\r\n")
	c := dial(t, s)
	c.expect("ERROR Too many open connections\r\n")
	c.expectEOF()
	if n := a.stat("rejected_connections"); n != 1 {
		t.Errorf("rejected_connections = %d", n)
	}
	b.c.Close()
	// The slot frees once the server sees the close.
	deadline := time.Now().Add(5 * time.Second)
	for s.curr.Load() > 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	d := dial(t, s)
	d.send("version\r\n")
	d.expect("VERSION 1.6.18-dynamo\r\n")
}

func TestIdleTimeout(t *testing.T) {
	s := start(t, fakekv.New(nil), Options{IdleTimeout: 300 * time.Millisecond})
	idle, busy := dial(t, s), dial(t, s)
	start := time.Now()
	for time.Since(start) < 900*time.Millisecond {
		busy.send("version\r\n")
		busy.expect("VERSION 1.6.18-dynamo\r\n")
		time.Sleep(50 * time.Millisecond)
	}
	idle.expectEOF()
	if n := busy.stat("idle_kicks"); n != 1 {
		t.Errorf("idle_kicks = %d, want 1", n)
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	kv := fakekv.New(nil)
	s, err := New(kv, Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	<-s.Ready()
	c := dial(t, s)
	kv.SetFaults(fakekv.Faults{Delay: 300 * time.Millisecond})
	c.send("set a 0 0 1\r\nx\r\n")
	time.Sleep(50 * time.Millisecond) // the batch is now in flight
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c.expect("STORED\r\n")
	c.expectEOF()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if kv.Puts() != 1 {
		t.Fatalf("puts = %d", kv.Puts())
	}
	if _, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

func TestRepliesSurviveHalfClose(t *testing.T) {
	kv := fakekv.New(nil)
	s := start(t, kv, Options{})
	kv.SetFaults(fakekv.Faults{Delay: 20 * time.Millisecond})
	c := dial(t, s)
	c.send("set a 0 0 1\r\nx\r\nget a\r\n")
	if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.expect("STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n")
	c.expectEOF()
}

func TestPipelinedOrderAcrossBatches(t *testing.T) {
	kv := fakekv.New(nil)
	s := start(t, kv, Options{})
	c := dial(t, s)
	c.send("set n 0 0 1\r\n0\r\n")
	c.expect("STORED\r\n")
	kv.SetFaults(fakekv.Faults{Delay: 100 * time.Microsecond})
	const n = 1000
	go func() {
		for i := 0; i < n; i += 100 {
			// Uneven writes land in different batches.
			_, _ = io.WriteString(c.c, strings.Repeat("incr n 1\r\n", 100))
		}
	}()
	for i := 1; i <= n; i++ {
		c.expect(strconv.Itoa(i) + "\r\n")
	}
}

func TestLineTooLongCloses(t *testing.T) {
	s := start(t, fakekv.New(nil), Options{})
	c := dial(t, s)
	c.send("version\r\n" + strings.Repeat("x", 5000))
	c.expect("VERSION 1.6.18-dynamo\r\n")
	c.expectEOF()
}

func TestServerStats(t *testing.T) {
	s := start(t, fakekv.New(nil), Options{})
	c := dial(t, s)
	c.send("set a 0 0 1\r\nx\r\n")
	c.expect("STORED\r\n")
	if n := c.stat("curr_connections"); n != 1 {
		t.Errorf("curr_connections = %d", n)
	}
	if n := c.stat("total_connections"); n != 1 {
		t.Errorf("total_connections = %d", n)
	}
	if n := c.stat("bytes_read"); n < len("set a 0 0 1\r\nx\r\nstats\r\n") {
		t.Errorf("bytes_read = %d", n)
	}
	if n := c.stat("bytes_written"); n < len("STORED\r\n") {
		t.Errorf("bytes_written = %d", n)
	}
	if n := c.stat("max_connections"); n != 1024 {
		t.Errorf("max_connections = %d", n)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{{MaxConns: -1}, {IdleTimeout: -time.Second}, {MaxItemSize: 10}} {
		if _, err := New(fakekv.New(nil), o); !errors.Is(err, ErrBadOptions) {
			t.Errorf("New(%+v) = %v, want ErrBadOptions", o, err)
		}
	}
	if _, err := New(nil, Options{}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("nil engine: %v", err)
	}
}

func TestLargeMultiGetStreams(t *testing.T) {
	s := start(t, fakekv.New(nil), Options{})
	c := dial(t, s)
	v := strings.Repeat("x", 900_000)
	var want strings.Builder
	for i := range 6 {
		k := "big" + strconv.Itoa(i)
		c.send("set " + k + " 0 0 900000\r\n" + v + "\r\n")
		c.expect("STORED\r\n")
		want.WriteString("VALUE " + k + " 0 900000\r\n" + v + "\r\n")
	}
	c.send("get big0 big1 big2 big3 big4 big5\r\nversion\r\n")
	c.expect(want.String() + "END\r\nVERSION 1.6.18-dynamo\r\n")
}

// TestSlowReaderBackpressure pipelines far more reply bytes than the
// output limit before reading any of them; every reply must still arrive,
// in order.
func TestSlowReaderBackpressure(t *testing.T) {
	s := start(t, fakekv.New(nil), Options{})
	c := dial(t, s)
	v := strings.Repeat("y", 500_000)
	c.send("set big 0 0 500000\r\n" + v + "\r\n")
	c.expect("STORED\r\n")
	const gets = 100 // 50 MB of replies
	c.send(strings.Repeat("get big\r\n", gets) + "version\r\n")
	time.Sleep(300 * time.Millisecond) // let the replies back up
	for range gets {
		c.expect("VALUE big 0 500000\r\n" + v + "\r\nEND\r\n")
	}
	c.expect("VERSION 1.6.18-dynamo\r\n")
}

// TestRunawayInputCloses closes a connection that sends more than the
// pending-input cap without reading its replies.
func TestRunawayInputCloses(t *testing.T) {
	s := start(t, fakekv.New(nil), Options{MaxItemSize: 1 << 20})
	c := dial(t, s)
	v := strings.Repeat("y", 900_000)
	c.send("set big 0 0 900000\r\n" + v + "\r\n")
	c.expect("STORED\r\n")
	// Keep sending gets and never read: replies back up, then input does.
	req := []byte(strings.Repeat("get big\r\n", 10_000))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_ = c.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.c.Write(req); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("server stopped reading instead of closing: %v", err)
			}
			return // the server closed the connection
		}
	}
	t.Fatal("server kept accepting input from a client that never reads")
}

// TestLargeRepliesSplitBatches pipelines more reply bytes than one batch
// may produce, with a rejected data block where a batch is cut: every
// reply must arrive, in order.
func TestLargeRepliesSplitBatches(t *testing.T) {
	s := start(t, fakekv.New(nil), Options{MaxItemSize: 1 << 20})
	c := dial(t, s)
	setup, req, want := cutAtRejectedBlock()
	c.send(setup)
	c.expect("STORED\r\nSTORED\r\n")
	go func() { _, _ = io.WriteString(c.c, req) }()
	c.expect(want)
}
