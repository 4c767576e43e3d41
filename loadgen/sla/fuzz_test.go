package sla

import (
	"errors"
	"testing"
)

// FuzzParse: rules either parse, and re-parse from their own text to the
// same rule, or fail with ErrBadRule.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"p99.9<5ms", "get+set:p50<250us,max<1s", "errors<0.1%", "cart:mean<2ms", "p<", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := Parse(s, known)
		if err != nil {
			if !errors.Is(err, ErrBadRule) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		for _, r := range rules {
			again, err := Parse(r.Text, known)
			if err != nil || len(again) != 1 || again[0].Metric != r.Metric || again[0].Limit != r.Limit ||
				again[0].Percentile != r.Percentile || again[0].MaxErrorRate != r.MaxErrorRate {
				t.Fatalf("%q: rule %q re-parses as %+v, %v", s, r.Text, again, err)
			}
		}
	})
}
