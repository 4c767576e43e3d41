package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteTable writes the human-readable summary of a run.
func WriteTable(w io.Writer, s *Summary) error {
	var b strings.Builder
	title := "loadgen " + s.Mode
	if s.Label != "" {
		title += " [" + s.Label + "]"
	}
	fmt.Fprintf(&b, "%s against %s: %.1fs measured", title, strings.Join(s.Targets, ","), s.DurationSec)
	if s.WarmupSec > 0 {
		fmt.Fprintf(&b, " after %.1fs warm-up", s.WarmupSec)
	}
	if s.Mode == OpenLoop {
		fmt.Fprintf(&b, ", %.0f ops/s requested", s.Rate)
	}
	fmt.Fprintf(&b, "\n  %s\n\n", s.ModeNote)
	fmt.Fprintf(&b, "%-7s %11s %9s %9s %9s %9s %9s %9s %9s %9s %8s\n",
		"op", "ops/s", "mean", "p50", "p90", "p99", "p99.9", "p99.99", "max", "misses", "failed")
	rows := append(slices.Clone(s.PerOp), s.All)
	for _, o := range rows {
		fmt.Fprintf(&b, "%-7s %11.1f %9s %9s %9s %9s %9s %9s %9s %9d %8d\n", o.Op, o.Throughput,
			Micros(o.MeanUs), Micros(o.P50Us), Micros(o.P90Us), Micros(o.P99Us), Micros(o.P999Us),
			Micros(o.P9999Us), Micros(o.MaxUs), o.Misses, o.Failed)
	}
	fmt.Fprintf(&b, "\nthroughput %.1f ops/s (%.1f requests/s), %d ops measured\n", s.Throughput, s.Requests, s.Ops)
	writeErrors(&b, s)
	if st := s.Siblings; st != nil {
		fmt.Fprintf(&b, "siblings: %d getv replies, %d siblings, mean %.3f; by count %s\n",
			st.Reads, st.Total, st.Mean, mapString(st.ByN))
	}
	if l := s.ScheduleLag; l != nil {
		fmt.Fprintf(&b, "send lag behind schedule (target back-pressure): p50 %s p99 %s p99.9 %s max %s\n",
			Micros(l.P50Us), Micros(l.P99Us), Micros(l.P999Us), Micros(l.MaxUs))
	}
	c := s.CPU
	fmt.Fprintf(&b, "loadgen cpu: %.2fs user + %.2fs system; %.0f ops per cpu-second\n",
		c.UserSec, c.SysSec, c.OpsPerCPUSec)
	for _, v := range s.SLA {
		verdict := "PASS"
		if !v.Pass {
			verdict = "MISS"
		}
		fmt.Fprintf(&b, "SLA %-24s %s  observed %s, limit %s", v.Rule, verdict, observed(v.Observed, v.Unit), observed(v.Limit, v.Unit))
		if v.Note != "" {
			fmt.Fprintf(&b, " (%s)", v.Note)
		}
		b.WriteByte('\n')
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeErrors(b *strings.Builder, s *Summary) {
	if len(s.Errors) == 0 {
		b.WriteString("errors: none\n")
	} else {
		fmt.Fprintf(b, "errors: %s\n", mapString(s.Errors))
	}
	if s.Reconnects > 0 {
		fmt.Fprintf(b, "reconnects: %d\n", s.Reconnects)
	}
}

func mapString(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+strconv.FormatInt(m[k], 10))
	}
	return strings.Join(parts, " ")
}

func observed(v float64, unit string) string {
	switch {
	case unit == "%":
		return strconv.FormatFloat(v, 'g', 4, 64) + "%"
	case v < 0:
		return "inf"
	}
	return Micros(v)
}

// Micros formats a latency given in microseconds with a readable unit.
func Micros(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 1, 64) + "us"
	case v < 1e6:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + "ms"
	}
	return (time.Duration(v*1e3) / time.Millisecond * time.Millisecond).String()
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
