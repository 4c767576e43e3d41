package sla

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// ErrBadRule is returned (wrapped) for a rule that does not parse.
var ErrBadRule = errors.New("sla: bad rule")

// Metric is what a rule bounds.
type Metric uint8

// The metrics.
const (
	Quantile  Metric = iota // latency at Rule.Percentile
	Max                     // largest latency
	Mean                    // mean latency
	ErrorRate               // failed / (succeeded + failed)
)

// Rule is one objective: Metric of the operations in Ops (all operations
// when empty) must stay below Limit (a latency) or MaxErrorRate.
type Rule struct {
	Text         string   // as written
	Ops          []string // operation names; empty means all
	Metric       Metric
	Percentile   float64       // for Quantile, 0-100 exclusive of 100
	Limit        time.Duration // for latency metrics
	MaxErrorRate float64       // for ErrorRate, a fraction
}

// Parse reads comma-separated rules "[op[+op...]:]metric<limit" where metric
// is pNN (p50, p99.9, ...), max, mean or errors, the limit of a latency
// metric is a Go duration ("5ms", "250us") and the limit of errors is a
// percentage ("0.1%"). Op names must be among known.
func Parse(s string, known []string) ([]Rule, error) {
	var rules []Rule
	for _, text := range strings.Split(s, ",") {
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		r, err := parseRule(text, known)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("%w: %q holds no rule", ErrBadRule, s)
	}
	return rules, nil
}

func parseRule(text string, known []string) (Rule, error) {
	r := Rule{Text: text}
	expr := text
	if scope, rest, ok := strings.Cut(text, ":"); ok {
		for _, op := range strings.Split(scope, "+") {
			if !slices.Contains(known, op) {
				return r, fmt.Errorf("%w: %q: unknown operation %q (known: %s)", ErrBadRule, text, op, strings.Join(known, ", "))
			}
			r.Ops = append(r.Ops, op)
		}
		expr = rest
	}
	metric, limit, ok := strings.Cut(expr, "<")
	if !ok {
		return r, fmt.Errorf("%w: %q: want metric<limit, e.g. p99.9<5ms", ErrBadRule, text)
	}
	if err := r.parseMetric(metric); err != nil {
		return r, fmt.Errorf("%w: %q: %w", ErrBadRule, text, err)
	}
	if err := r.parseLimit(limit); err != nil {
		return r, fmt.Errorf("%w: %q: %w", ErrBadRule, text, err)
	}
	return r, nil
}

func (r *Rule) parseMetric(m string) error {
	switch {
	case m == "max":
		r.Metric = Max
	case m == "mean":
		r.Metric = Mean
	case m == "errors":
		r.Metric = ErrorRate
	case strings.HasPrefix(m, "p"):
		p, err := strconv.ParseFloat(m[1:], 64)
		if err != nil || !(p > 0 && p < 100) {
			return fmt.Errorf("percentile %q must be p followed by a number in (0, 100)", m)
		}
		r.Metric, r.Percentile = Quantile, p
	default:
		return fmt.Errorf("metric %q is not pNN, max, mean or errors", m)
	}
	return nil
}

func (r *Rule) parseLimit(l string) error {
	if r.Metric == ErrorRate {
		pct, ok := strings.CutSuffix(l, "%")
		v, err := strconv.ParseFloat(pct, 64)
		if !ok || err != nil || v < 0 || v > 100 {
			return fmt.Errorf("error limit %q must be a percentage such as 0.1%%", l)
		}
		r.MaxErrorRate = v / 100
		return nil
	}
	d, err := time.ParseDuration(l)
	if err != nil || d <= 0 {
		return fmt.Errorf("latency limit %q must be a positive duration such as 5ms", l)
	}
	r.Limit = d
	return nil
}

// Verdict is the judgement of one rule.
type Verdict struct {
	Rule     string  `json:"rule"`
	Pass     bool    `json:"pass"`
	Observed float64 `json:"observed"` // µs for latency metrics, percent for errors; +Inf is encoded as -1
	Limit    float64 `json:"limit"`    // same unit as Observed
	Unit     string  `json:"unit"`     // "us" or "%"
	Note     string  `json:"note,omitempty"`
}

// Judge evaluates r against the successful-operation latencies h (in
// nanoseconds; nil when there were none) and the number of failed operations.
func (r Rule) Judge(h *hdrhistogram.Histogram, failed int64) Verdict {
	var ok int64
	if h != nil {
		ok = h.TotalCount()
	}
	total := ok + failed
	v := Verdict{Rule: r.Text, Unit: "us", Limit: float64(r.Limit) / 1e3}
	if total == 0 {
		v.Note = "no operations in scope were measured"
		return v
	}
	if r.Metric == ErrorRate {
		v.Unit, v.Limit = "%", r.MaxErrorRate*100
		rate := float64(failed) / float64(total)
		v.Observed, v.Pass = rate*100, rate <= r.MaxErrorRate
		return v
	}
	latency, note := r.latency(h, ok, failed)
	v.Note = note
	if math.IsInf(latency, 1) {
		v.Observed = -1
		return v
	}
	v.Observed = latency / 1e3
	v.Pass = latency < float64(r.Limit)
	return v
}

// latency returns the metric in ns, +Inf when failures decide it.
func (r Rule) latency(h *hdrhistogram.Histogram, ok, failed int64) (float64, string) {
	inf := math.Inf(1)
	if failed > 0 && r.Metric != Quantile {
		return inf, fmt.Sprintf("%d failed operations count as infinitely slow", failed)
	}
	switch r.Metric {
	case Max:
		return float64(h.Max()), ""
	case Mean:
		return h.Mean(), ""
	}
	// With no failures, exactly the percentile the report's table prints
	// (the same ValueAtQuantile call): a rank of our own, ceil(0.999 ×
	// 50,000), came out 49,951 in floating point and judged p99.902.
	if failed == 0 {
		return float64(h.ValueAtQuantile(r.Percentile)), ""
	}
	// Failures rank last, as infinitely slow: the percentile among all
	// operations is this one among the successes.
	total := ok + failed
	q := r.Percentile * float64(total) / float64(ok)
	if q > 100 {
		return inf, fmt.Sprintf("%d of %d operations failed (%.3g%%), beyond the p%g tail",
			failed, total, 100*float64(failed)/float64(total), r.Percentile)
	}
	return float64(h.ValueAtQuantile(q)), ""
}
