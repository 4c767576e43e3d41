// Command stallprobe measures how late this machine wakes a sleeping
// process. It sleeps -interval in a loop, for -duration at most, and
// prints each wake-up that came more than -over late, as "UNIX_MS
// LATE_MS" (the time it went to sleep, and by how much it overslept).
// Run beside a benchmark, it tells a stall of the machine (a paused
// virtual machine, a kernel busy reclaiming, the disk holding every
// writer) from one of the system under test: a stall every process met
// at once shows here too.
//
//	stallprobe -duration 30m > stalls.txt &
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dynamo-kv/dynamo/cmd/internal/buildinfo"
)

type options struct {
	interval, over, duration time.Duration
}

func main() {
	if buildinfo.Asked(os.Args[1:]) {
		fmt.Println(buildinfo.Line("stallprobe"))
		return
	}
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stallprobe:", err)
		os.Exit(2)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	w := bufio.NewWriter(os.Stdout)
	probe(w, opts, time.Now, time.Sleep, stop)
}

func parseFlags(args []string, errOut io.Writer) (options, error) {
	fs := flag.NewFlagSet("stallprobe", flag.ContinueOnError)
	fs.SetOutput(errOut)
	buildinfo.Register(fs)
	var o options
	fs.DurationVar(&o.interval, "interval", time.Millisecond, "how long each sleep asks for")
	fs.DurationVar(&o.over, "over", 10*time.Millisecond, "print a wake-up later than this")
	fs.DurationVar(&o.duration, "duration", time.Hour, "stop after this long")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.interval <= 0:
		return o, fmt.Errorf("-interval %v: must be positive", o.interval)
	case o.over <= 0:
		return o, fmt.Errorf("-over %v: must be positive", o.over)
	case o.duration <= 0:
		return o, fmt.Errorf("-duration %v: must be positive", o.duration)
	}
	return o, nil
}

// probe sleeps in a loop until opts.duration has passed or stop fires,
// writing each late wake-up to w, flushed at once (the benchmark reads
// the file while the probe runs).
func probe(w *bufio.Writer, opts options, now func() time.Time, sleep func(time.Duration), stop <-chan os.Signal) {
	end := now().Add(opts.duration)
	for {
		select {
		case <-stop:
			return
		default:
		}
		start := now()
		if !start.Before(end) {
			return
		}
		sleep(opts.interval)
		if late := now().Sub(start) - opts.interval; late > opts.over {
			fmt.Fprintf(w, "%d %.1f\n", start.UnixMilli(), float64(late)/float64(time.Millisecond))
			w.Flush()
		}
	}
}
