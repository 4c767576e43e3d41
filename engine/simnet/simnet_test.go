package simnet

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"
)

func TestStreamHeldAcrossCutAndDelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := New(1)
		nw.SetLatency(time.Millisecond, time.Millisecond)
		a, b := nw.Host("10.0.0.1"), nw.Host("10.0.0.2")
		l, err := b.Listen("10.0.0.2:7000")
		if err != nil {
			t.Fatal(err)
		}
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
