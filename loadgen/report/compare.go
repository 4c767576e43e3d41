package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Comparison is the result of a compare run: the same workload against
// several targets in alternation, summarised per target by the median over
// rounds (the machine is noisy; single runs are not quoted).
type Comparison struct {
	Tool    string         `json:"tool"`
	Rounds  int            `json:"rounds"`
	Order   string         `json:"order"`
	Targets []TargetMedian `json:"targets"`
	// Ratio is the first target's medians divided by the second's.
	Ratio *Ratio `json:"ratio_first_to_second,omitempty"`
}

// TargetMedian is one target's medians over rounds, all user-level ops.
type TargetMedian struct {
	Name       string     `json:"name"`
	Addr       string     `json:"addr"`
	Throughput float64    `json:"throughput"`
	P50Us      float64    `json:"p50_us"`
	P99Us      float64    `json:"p99_us"`
	P999Us     float64    `json:"p99_9_us"`
	Failed     int64      `json:"failed"` // summed over rounds
	Rounds     []*Summary `json:"rounds"`
}

// Ratio compares two targets' medians.
type Ratio struct {
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
	P999       float64 `json:"p99_9"`
}

// Compare summarises the rounds of each target (rounds[i] belongs to
// names[i] at addrs[i]).
func Compare(names, addrs []string, rounds [][]*Summary, order string) *Comparison {
	c := &Comparison{Tool: "loadgen", Order: order}
	for i, runs := range rounds {
		c.Rounds = max(c.Rounds, len(runs))
		t := TargetMedian{Name: names[i], Addr: addrs[i], Rounds: runs}
		t.Throughput = median(runs, func(s *Summary) float64 { return s.Throughput })
		t.P50Us = median(runs, func(s *Summary) float64 { return s.All.P50Us })
		t.P99Us = median(runs, func(s *Summary) float64 { return s.All.P99Us })
		t.P999Us = median(runs, func(s *Summary) float64 { return s.All.P999Us })
		for _, s := range runs {
			t.Failed += s.All.Failed
		}
		c.Targets = append(c.Targets, t)
	}
	if len(c.Targets) >= 2 {
		a, b := c.Targets[0], c.Targets[1]
		c.Ratio = &Ratio{Throughput: ratio(a.Throughput, b.Throughput), P50: ratio(a.P50Us, b.P50Us),
			P99: ratio(a.P99Us, b.P99Us), P999: ratio(a.P999Us, b.P999Us)}
	}
	return c
}

func median(runs []*Summary, f func(*Summary) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	vs := make([]float64, len(runs))
	for i, s := range runs {
		vs[i] = f(s)
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2
	}
	return vs[len(vs)/2]
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// WriteCompareTable writes the comparison for people.
func WriteCompareTable(w io.Writer, c *Comparison) error {
	var b strings.Builder
	fmt.Fprintf(&b, "compare: median of %d rounds per target (%s)\n", c.Rounds, c.Order)
	nameW, addrW := 12, 22
	for _, t := range c.Targets {
		nameW, addrW = max(nameW, len(t.Name)), max(addrW, len(t.Addr))
	}
	fmt.Fprintf(&b, "%-*s %-*s %12s %9s %9s %9s %8s   %s\n", nameW, "target", addrW, "addr", "ops/s", "p50", "p99", "p99.9", "failed", "ops/s by round")
	for _, t := range c.Targets {
		var per []string
		for _, s := range t.Rounds {
			per = append(per, fmt.Sprintf("%.0f", s.Throughput))
		}
		fmt.Fprintf(&b, "%-*s %-*s %12.1f %9s %9s %9s %8d   %s\n", nameW, t.Name, addrW, t.Addr, t.Throughput,
			Micros(t.P50Us), Micros(t.P99Us), Micros(t.P999Us), t.Failed, strings.Join(per, " "))
	}
	if r := c.Ratio; r != nil {
		fmt.Fprintf(&b, "ratio %s/%s: throughput %.3f, p50 %.3f, p99 %.3f, p99.9 %.3f\n",
			c.Targets[0].Name, c.Targets[1].Name, r.Throughput, r.P50, r.P99, r.P999)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
