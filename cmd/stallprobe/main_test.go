package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// A fake clock: each sleep takes what it asked for, except those the
// test makes late.
type fakeClock struct {
	t    time.Time
	late map[int]time.Duration // by sleep number, from 0
	n    int
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(d time.Duration) {
	c.t = c.t.Add(d + c.late[c.n])
	c.n++
}

func TestProbePrintsOnlyLateWakeUps(t *testing.T) {
	c := &fakeClock{t: time.UnixMilli(1_000_000), late: map[int]time.Duration{2: 50 * time.Millisecond, 5: 5 * time.Millisecond, 7: 12 * time.Millisecond}}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	probe(w, options{interval: time.Millisecond, over: 10 * time.Millisecond, duration: 100 * time.Millisecond}, c.now, c.sleep, make(chan os.Signal))
	// Sleep 2 began at 1,000,002 ms; sleep 7 after the 50 ms and 5 ms
	// late ones, at 1,000,062.
	want := "1000002 50.0\n1000062 12.0\n"
	if out.String() != want {
		t.Fatalf("got\n%swant\n%s", out.String(), want)
	}
	// It stops at the duration: 33 sleeps of 1 ms and 67 ms of lateness.
	if c.n != 33 {
		t.Fatalf("slept %d times, want 33", c.n)
	}
}

func TestBadFlagsSayWhy(t *testing.T) {
	for _, args := range [][]string{{"-interval", "0s"}, {"-over", "-1ms"}, {"-duration", "0"}, {"extra"}} {
		_, err := parseFlags(args, io.Discard)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%v: %v, want a one-line error", args, err)
		}
	}
}
