package check

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func set(seq int, v string, out Outcome) RegisterOp {
	return RegisterOp{Key: "k", Seq: seq, Kind: Set, Value: v, Start: at(float64(seq)), End: at(float64(seq) + 0.5), Outcome: out}
}

func ttlSet(seq int, v string, expires float64, out Outcome) RegisterOp {
	op := set(seq, v, out)
	op.Expires = at(expires)
	return op
}

func del(seq int, out Outcome) RegisterOp {
	return RegisterOp{Key: "k", Seq: seq, Kind: Delete, Start: at(float64(seq)), End: at(float64(seq) + 0.5), Outcome: out}
}

func hit(v string, sibs ...string) Observation {
	if sibs == nil {
		sibs = []string{v}
	}
	return Observation{Node: "n1", Key: "k", At: at(100), Found: true, Value: v, Siblings: sibs}
}

func miss() Observation { return Observation{Node: "n1", Key: "k", At: at(100)} }

func TestRegisters(t *testing.T) {
	opts := Options{ExpirySlack: 2 * time.Second}
	cases := []struct {
		name              string
		ops               []RegisterOp
		final             Observation
		lost, resurrected int
	}{
		{"last write read", []RegisterOp{set(1, "a", OK), set(2, "b", OK)}, hit("b"), 0, 0},
		{"acknowledged write missing", []RegisterOp{set(1, "a", OK), set(2, "b", OK)}, miss(), 1, 0},
		{"overwritten value back", []RegisterOp{set(1, "a", OK), set(2, "b", OK)}, hit("a", "a", "b"), 0, 1},
		{"deleted value back", []RegisterOp{set(1, "a", OK), del(2, OK)}, hit("a"), 0, 1},
		{"expired value back", []RegisterOp{set(1, "a", OK), ttlSet(2, "b", 5, OK)}, hit("a"), 0, 1},
		{"expired value is a miss", []RegisterOp{set(1, "a", OK), ttlSet(2, "b", 5, OK)}, miss(), 0, 0},
		{"value near its expiry may still be read", []RegisterOp{ttlSet(1, "b", 99.5, OK)}, hit("b"), 0, 0},
		{"unknown write may land last", []RegisterOp{set(1, "a", Unknown), set(2, "b", OK)}, hit("a"), 0, 0},
		{"failed earlier write may not win", []RegisterOp{set(1, "a", Failed), set(2, "b", OK)}, hit("a", "a", "b"), 0, 1},
		{"failed later write may win", []RegisterOp{set(1, "a", OK), set(2, "b", Failed)}, hit("b"), 0, 0},
		{"unknown later delete explains a miss", []RegisterOp{set(1, "a", OK), del(2, Unknown)}, miss(), 0, 0},
		{"nothing acknowledged, nothing there", []RegisterOp{set(1, "a", Failed)}, miss(), 0, 0},
		{"winner right but acknowledged sibling gone", []RegisterOp{set(1, "a", OK), set(2, "b", Unknown)}, hit("a", "c"), 1, 0},
		{"a value nobody wrote", []RegisterOp{set(1, "a", OK)}, hit("zzz"), 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Check(&History{Registers: c.ops, Final: []Observation{c.final}}, opts)
			if r.Lost != c.lost || r.Resurrected != c.resurrected {
				t.Fatalf("lost %d resurrected %d, want %d and %d (%v)", r.Lost, r.Resurrected, c.lost, c.resurrected, r.Examples)
			}
		})
	}
}

func TestDisagreement(t *testing.T) {
	ops := []RegisterOp{set(1, "a", OK)}
	a, b := hit("a"), miss()
	b.Node = "n2"
	r := Check(&History{Registers: ops, Final: []Observation{a, b}}, Options{})
	if r.Disagree != 1 || r.Lost != 1 {
		t.Fatalf("disagree %d lost %d, want 1 and 1", r.Disagree, r.Lost)
	}
}

func TestCounters(t *testing.T) {
	ops := []CounterOp{
		{Key: "c", Delta: 2, Outcome: OK, Result: 12},
		{Key: "c", Delta: 3, Outcome: OK, Result: 15},
		{Key: "c", Delta: 5, Outcome: Unknown},
	}
	read := func(v string) Observation { return Observation{Node: "n1", Key: "c", Found: true, Value: v} }
	cases := []struct {
		value         string
		lost, phantom uint64
	}{
		{"15", 0, 0}, {"20", 0, 0}, {"13", 2, 0}, {"21", 0, 1}, {"15  ", 0, 0},
	}
	for _, c := range cases {
		r := Check(&History{Counters: ops, CounterBase: map[string]uint64{"c": 10}, Final: []Observation{read(c.value)}}, Options{})
		if r.LostIncrements != c.lost || r.PhantomIncrements != c.phantom {
			t.Errorf("counter %q: lost %d phantom %d, want %d %d", c.value, r.LostIncrements, r.PhantomIncrements, c.lost, c.phantom)
		}
	}
	dup := append(ops, CounterOp{Key: "c", Delta: 1, Outcome: OK, Result: 15})
	r := Check(&History{Counters: dup, CounterBase: map[string]uint64{"c": 10}, Final: []Observation{read("16")}}, Options{})
	if r.DuplicateResults != 1 {
		t.Errorf("duplicate results %d, want 1", r.DuplicateResults)
	}
	// A partition allows it: a note, not a violation, and it takes no
	// place from the examples of violations.
	if r.Failures() != 0 || len(r.Examples) != 0 || len(r.Notes) != 1 {
		t.Errorf("duplicate results: %d failures, examples %q, notes %q; want 0, none, one", r.Failures(), r.Examples, r.Notes)
	}
}

func TestElements(t *testing.T) {
	ops := []ElementOp{{Key: "s", Element: "x", Outcome: OK}, {Key: "s", Element: "y", Outcome: OK}, {Key: "s", Element: "z", Outcome: Unknown}}
	obs := func(sibs ...string) Observation {
		return Observation{Node: "n1", Key: "s", Found: true, Siblings: sibs}
	}
	cases := []struct {
		sibs           []string
		lost, phantoms int
	}{
		{[]string{"x,y"}, 0, 0},
		{[]string{"x", "y,z"}, 0, 0},
		{[]string{"x"}, 1, 0},
		{[]string{"x,y,w"}, 0, 1},
	}
	for _, c := range cases {
		r := Check(&History{Elements: ops, Final: []Observation{obs(c.sibs...)}}, Options{})
		if r.LostElements != c.lost || r.PhantomElements != c.phantoms {
			t.Errorf("siblings %q: lost %d phantom %d, want %d %d", c.sibs, r.LostElements, r.PhantomElements, c.lost, c.phantoms)
		}
	}
}

// TestRegistersUnderClockSkew: last writer wins orders writes by their
// coordinators' clocks, so within the skew an earlier write may win; a
// write further back may not.
func TestRegistersUnderClockSkew(t *testing.T) {
	ops := []RegisterOp{set(1, "a", OK), set(2, "b", OK), set(3, "c", OK)}
	for _, c := range []struct {
		skew        time.Duration
		read        string
		resurrected int
	}{
		{0, "b", 1},
		{time.Second, "b", 0}, // b ended at 2.5 s, c began at 3 s
		{time.Second, "a", 1}, // a ended at 1.5 s: too far back
		{2 * time.Second, "a", 0},
	} {
		r := Check(&History{Registers: ops, Final: []Observation{hit(c.read, c.read, "c")}}, Options{ClockSkew: c.skew})
		if r.Resurrected != c.resurrected {
			t.Errorf("skew %v, read %q: %d resurrected, want %d (%v)", c.skew, c.read, r.Resurrected, c.resurrected, r.Examples)
		}
	}
}
