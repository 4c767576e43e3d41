// Command loadgen drives memcached-protocol targets with a workload and
// reports throughput, latency percentiles (HdrHistogram), failures and an
// SLA verdict. See -help.
//
// Exit status: 0 success, 1 SLA missed, 2 bad input (flags, profile,
// unreachable target), 3 a run or output failure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/dynamo-kv/dynamo/cmd/internal/buildinfo"
	"github.com/dynamo-kv/dynamo/loadgen"
	"github.com/dynamo-kv/dynamo/loadgen/fakeserver"
	"github.com/dynamo-kv/dynamo/loadgen/profile"
	"github.com/dynamo-kv/dynamo/loadgen/report"
)

// Exit statuses.
const (
	exitOK        = 0
	exitSLAMissed = 1
	exitBadInput  = 2
	exitFailure   = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if buildinfo.Asked(args) {
		fmt.Fprintln(stdout, buildinfo.Line("loadgen"))
		return exitOK
	}
	inv, err := parseInvocation(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return exitOK
	}
	if err != nil {
		printErr(stderr, err)
		return exitBadInput
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case inv.serve != "":
		return serve(ctx, inv, stderr)
	case len(inv.compare) > 0:
		return runCompare(ctx, inv, stdout, stderr)
	}
	return runOnce(ctx, inv, stdout, stderr)
}

func runOnce(ctx context.Context, inv *invocation, stdout, stderr io.Writer) int {
	res, err := loadgen.Run(ctx, inv.cfg)
	if err != nil {
		printErr(stderr, err)
		if errors.Is(err, loadgen.ErrConfig) || errors.Is(err, loadgen.ErrConnect) {
			return exitBadInput
		}
		return exitFailure
	}
	if err := report.WriteTable(stdout, res.Summary); err != nil {
		printErr(stderr, fmt.Errorf("writing summary: %w", err))
		return exitFailure
	}
	if err := writeOutputs(inv, res); err != nil {
		printErr(stderr, err)
		return exitFailure
	}
	code := exitOK
	if p := res.Summary.SLAPass; p != nil && !*p {
		fmt.Fprintln(stderr, "loadgen: SLA missed")
		code = exitSLAMissed
	}
	if why := errorVerdict(res.Summary, float64(inv.maxErrors)); why != "" {
		fmt.Fprintln(stderr, "loadgen: "+why)
		code = exitSLAMissed
	}
	return code
}

// errorVerdict says why a run's failures make it fail, or "" if they do
// not: a run none of whose operations succeeded, or with a larger share
// failed than allowed, measured something other than the target serving
// requests (a dead target, one answering only errors).
func errorVerdict(s *report.Summary, allowed float64) string {
	failed, ops := s.All.Failed, s.Ops
	share := 0.0
	if ops > 0 {
		share = float64(failed) / float64(ops)
	}
	switch {
	case ops > 0 && failed == ops && allowed < 1:
		return fmt.Sprintf("all %d operations failed%s", ops, topErrors(s.Errors))
	case ops == 0 && allowed < 1:
		return "no operation completed"
	case share > allowed:
		return fmt.Sprintf("%d of %d operations failed (%.2f%%), more than -max-errors %s allows%s",
			failed, ops, 100*share, shareFlag(allowed).String(), topErrors(s.Errors))
	}
	return ""
}

// topErrors names the most frequent failure classes, for the verdict line.
func topErrors(errs map[string]int64) string {
	if len(errs) == 0 {
		return ""
	}
	names := make([]string, 0, len(errs))
	for k := range errs {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if errs[names[i]] != errs[names[j]] {
			return errs[names[i]] > errs[names[j]]
		}
		return names[i] < names[j]
	})
	parts := []string{}
	for _, k := range names[:min(3, len(names))] {
		parts = append(parts, fmt.Sprintf("%s %d", k, errs[k]))
	}
	return ": " + strings.Join(parts, ", ")
}

func runCompare(ctx context.Context, inv *invocation, stdout, stderr io.Writer) int {
	cmp, err := loadgen.Compare(ctx, inv.cfg, inv.compare, inv.rounds)
	if err != nil {
		printErr(stderr, err)
		if errors.Is(err, loadgen.ErrConfig) || errors.Is(err, loadgen.ErrConnect) {
			return exitBadInput
		}
		return exitFailure
	}
	if err := report.WriteCompareTable(stdout, cmp); err != nil {
		return exitFailure
	}
	if inv.jsonPath != "" {
		if err := writeJSON(inv.jsonPath, cmp); err != nil {
			printErr(stderr, err)
			return exitFailure
		}
	}
	code := exitOK
	for _, tm := range cmp.Targets {
		all := &report.Summary{Errors: map[string]int64{}}
		for _, r := range tm.Rounds {
			all.Ops += r.Ops
			all.All.Failed += r.All.Failed
			for k, v := range r.Errors {
				all.Errors[k] += v
			}
		}
		if why := errorVerdict(all, float64(inv.maxErrors)); why != "" {
			fmt.Fprintf(stderr, "loadgen: %s: %s\n", tm.Name, why)
			code = exitSLAMissed
		}
	}
	return code
}

func writeOutputs(inv *invocation, res *loadgen.Result) error {
	if inv.jsonPath != "" {
		if err := writeJSON(inv.jsonPath, res.Summary); err != nil {
			return err
		}
	}
	if inv.hgrmPrefix != "" {
		names, hists := report.HgrmSeries(res.Hists)
		for i, name := range names {
			path := inv.hgrmPrefix + "." + name + ".hgrm"
			if err := writeFile(path, func(w io.Writer) error { return report.WriteHgrm(w, hists[i]) }); err != nil {
				return err
			}
		}
	}
	if inv.svgPath != "" {
		return writeFile(inv.svgPath, func(w io.Writer) error { return report.WriteSVG(w, res.Summary, res.Hists) })
	}
	return nil
}

func writeJSON(path string, v any) error {
	return writeFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// serve runs the built-in fake server until interrupted.
func serve(ctx context.Context, inv *invocation, stderr io.Writer) int {
	l, err := net.Listen("tcp", inv.serve)
	if err != nil {
		printErr(stderr, err)
		return exitBadInput
	}
	mode := "storing"
	if inv.serveNull {
		mode = "null"
	}
	fmt.Fprintf(stderr, "loadgen: %s fake server listening on %s\n", mode, l.Addr())
	srv := fakeserver.New(fakeserver.Options{Null: inv.serveNull})
	go func() { <-ctx.Done(); l.Close() }()
	if err := srv.Serve(l); err != nil {
		printErr(stderr, err)
		return exitFailure
	}
	return exitOK
}

// profileFrom loads -profile if args name one.
func profileFrom(args []string) (*profile.Profile, error) {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "profile" {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, errors.New("flag needs an argument: -profile")
			}
			value = args[i+1]
		}
		return profile.Load(value)
	}
	return nil, nil
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// printErr writes err as one line, prefixed with the command's name once.
func printErr(w io.Writer, err error) {
	msg := oneLine(err)
	if !strings.HasPrefix(msg, "loadgen: ") {
		msg = "loadgen: " + msg
	}
	fmt.Fprintln(w, msg)
}
