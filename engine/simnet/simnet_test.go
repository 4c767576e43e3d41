package simnet

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// listening returns a network with 1 ms of latency, two hosts on it, and
// a listener on the second's port 7000.
func listening(t *testing.T) (nw *Network, a, b *Host, l net.Listener) {
	t.Helper()
	nw = New(1)
	nw.SetLatency(time.Millisecond, time.Millisecond)
	a, b = nw.Host("10.0.0.1"), nw.Host("10.0.0.2")
	l, err := b.Listen("10.0.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	return nw, a, b, l
}

func TestStreamHeldAcrossCutAndDelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw, a, b, l := listening(t)
		got := make(chan string, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 5)
			_, err = io.ReadFull(c, buf)
			got <- string(buf) + errString(err)
			c.Close()
		}()
		c, err := a.Dial(context.Background(), "10.0.0.2:7000")
		if err != nil {
			t.Fatal(err)
		}
		nw.Cut([]string{a.IP()}, []string{b.IP()}, true)
		start := time.Now()
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case s := <-got:
			t.Fatalf("delivered %q through a cut", s)
		default:
		}
		nw.Heal()
		if s := <-got; s != "hello" {
			t.Fatalf("got %q", s)
		}
		if d := time.Since(start); d < time.Minute {
			t.Fatalf("delivered after %v, before the heal", d)
		}
		c.Close()
		l.Close()
	})
}

// TestStreamStallHoldsLaterWrites: a stalled write holds back what the
// same stream sends after it (order is kept), not another connection.
func TestStreamStallHoldsLaterWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw, a, _, l := listening(t)
		type read struct {
			s  string
			at time.Duration
		}
		start := time.Now()
		got := make(chan read, 4)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					buf := make([]byte, 1)
					for {
						if _, err := io.ReadFull(c, buf); err != nil {
							return
						}
						got <- read{string(buf), time.Since(start)}
					}
				}()
			}
		}()
		c1, err := a.Dial(context.Background(), "10.0.0.2:7000")
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		nw.SetStreamStalls(1, 10*time.Second) // every write held up to 10 s
		c1.Write([]byte("1"))
		synctest.Wait()
		nw.SetStreamStalls(0, 0)
		c1.Write([]byte("2")) // not stalled itself, but behind "1"
		c2, err := a.Dial(context.Background(), "10.0.0.2:7000")
		if err != nil {
			t.Fatal(err)
		}
		c2.Write([]byte("3")) // another connection: flows
		var order []string
		var at []time.Duration
		for range 3 {
			r := <-got
			order = append(order, r.s)
			at = append(at, r.at)
		}
		if order[0] != "3" || order[1] != "1" || order[2] != "2" {
			t.Fatalf("delivered %v at %v: want 3 first, then 1 before 2", order, at)
		}
		if at[1] > 10*time.Second+time.Millisecond || at[2] < at[1] {
			t.Fatalf("delivered %v at %v", order, at)
		}
		c1.Close()
		c2.Close()
		l.Close()
	})
}

func TestCrashResetsAndRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := New(1)
		a, b := nw.Host("10.0.0.1"), nw.Host("10.0.0.2")
		l, err := b.Listen("10.0.0.2:7000")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go io.Copy(io.Discard, c)
			}
		}()
		c, err := a.Dial(context.Background(), "10.0.0.2:7000")
		if err != nil {
			t.Fatal(err)
		}
		b.Crash()
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read from a crashed host's connection succeeded")
		}
		if _, err := a.Dial(context.Background(), "10.0.0.2:7000"); !errors.Is(err, ErrRefused) {
			t.Fatalf("dial to a crashed host: %v, want refused", err)
		}
		b.Restart()
		if _, err := b.Listen("10.0.0.2:7000"); err != nil {
			t.Fatalf("listen after restart: %v", err)
		}
		c.Close()
	})
}

func TestDialIntoCutTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := New(1)
		a, b := nw.Host("10.0.0.1"), nw.Host("10.0.0.2")
		l, _ := b.Listen("10.0.0.2:7000")
		defer l.Close()
		nw.Cut([]string{a.IP()}, []string{b.IP()}, false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := a.Dial(ctx, "10.0.0.2:7000")
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("dial into a cut: %v after %v", err, time.Since(start))
		}
	})
}

func errString(err error) string {
	if err != nil {
		return " " + err.Error()
	}
	return ""
}

// Two faults that cut the same link each undo only their own cut: the
// link delivers again once both have ended, not when the first ends.
func TestOverlappingCutsEachUndoTheirOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := New(1)
		a, b, c := nw.Host("10.0.0.1"), nw.Host("10.0.0.2"), nw.Host("10.0.0.3")
		l, _ := b.Listen("10.0.0.2:7000")
		defer l.Close()
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		}()
		dials := func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			conn, err := a.Dial(ctx, "10.0.0.2:7000")
			if err == nil {
				conn.Close()
			}
			return err == nil
		}
		healPartition := nw.Partition([]string{a.IP(), c.IP()}, []string{b.IP()})
		nw.Cut([]string{a.IP()}, []string{b.IP(), c.IP()}, true) // a cut off alone
		healPartition()
		if dials() {
			t.Fatal("a reached b once the partition healed, while a was still cut off alone")
		}
		nw.Uncut([]string{a.IP()}, []string{b.IP(), c.IP()}, true)
		if !dials() {
			t.Fatal("a cannot reach b with both faults over")
		}
	})
}
