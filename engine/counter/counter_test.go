package counter

import (
	"math"
	"testing"

	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/record"
)

func TestValue(t *testing.T) {
	e := func(a uint64, inc, dec uint64) record.CounterEntry {
		return record.CounterEntry{Actor: dvv.Actor(a), Inc: inc, Dec: dec}
	}
	cases := []struct {
		base    uint64
		entries []record.CounterEntry
		want    uint64
	}{
		{10, nil, 10},
		{10, []record.CounterEntry{e(1, 5, 2)}, 13},
		{10, []record.CounterEntry{e(1, 0, 6), e(2, 0, 7)}, 0},             // two sides decremented apart: floor at 0
		{math.MaxUint64, []record.CounterEntry{e(1, 2, 0)}, 1},             // incr wraps at 2^64
		{0, []record.CounterEntry{e(1, math.MaxUint64, 0), e(2, 5, 3)}, 1}, // sums past 2^64, then wraps
	}
	for _, c := range cases {
		if got := Value(c.base, c.entries); got != c.want {
			t.Errorf("Value(%d, %v) = %d, want %d", c.base, c.entries, got, c.want)
		}
	}
}

func TestMergeTakesEachActorsLargerTotals(t *testing.T) {
	a := &record.Counter{Entries: []record.CounterEntry{{Actor: 1, Inc: 5}, {Actor: 3, Inc: 1, Dec: 1}}}
	b := &record.Counter{Entries: []record.CounterEntry{{Actor: 1, Inc: 3, Dec: 2}, {Actor: 2, Inc: 7}}}
	got := Merge(nil, a, b)
	want := []record.CounterEntry{{Actor: 1, Inc: 5, Dec: 2}, {Actor: 2, Inc: 7}, {Actor: 3, Inc: 1, Dec: 1}}
	if len(got) != len(want) {
		t.Fatalf("Merge = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Merge = %v, want %v", got, want)
		}
	}
}

func TestApply(t *testing.T) {
	entries, v := Apply(nil, 9, 10, 4, false)
	if v != 14 || len(entries) != 1 || entries[0].Inc != 4 {
		t.Fatalf("incr: %v %d", entries, v)
	}
	entries, v = Apply(entries, 9, 14, 100, true)
	if v != 0 || entries[0].Dec != 14 {
		t.Fatalf("decr past 0 takes only what there is: %v %d", entries, v)
	}
}

func TestRenderAndWidth(t *testing.T) {
	if got := string(Render(nil, 5, Width(3, 5))); got != "5  " {
		t.Errorf("a shorter result keeps the old width: %q", got)
	}
	if got := string(Render(nil, 1234, Width(3, 1234))); got != "1234" {
		t.Errorf("a longer one takes its own: %q", got)
	}
}

func TestParseUint64(t *testing.T) {
	for in, want := range map[string]bool{"12": true, " 7": true, "+3": true, "5  ": true, "-1": false, "x": false, "": false, "99999999999999999999": false} {
		if _, ok := ParseUint64([]byte(in)); ok != want {
			t.Errorf("ParseUint64(%q) ok=%v, want %v", in, ok, want)
		}
	}
}
