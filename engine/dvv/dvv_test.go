package dvv

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

func clk(kv ...uint64) Clock {
	var c Clock
	for i := 0; i < len(kv); i += 2 {
		c = c.With(nil, Actor(kv[i]), kv[i+1])
	}
	return c
}

func TestClockOps(t *testing.T) {
	tests := []struct {
		name       string
		a, b       Clock
		join       Clock
		aDescendsB bool
		bDescendsA bool
	}{
		{"both empty", nil, nil, nil, true, true},
		{"empty vs one", nil, clk(1, 2), clk(1, 2), false, true},
		{"equal", clk(1, 2, 3, 4), clk(1, 2, 3, 4), clk(1, 2, 3, 4), true, true},
		{"a ahead", clk(1, 3, 3, 4), clk(1, 2, 3, 4), clk(1, 3, 3, 4), true, false},
		{"concurrent", clk(1, 3), clk(2, 1), clk(1, 3, 2, 1), false, false},
		{"interleaved actors", clk(1, 1, 5, 9), clk(2, 2, 5, 1, 7, 7), clk(1, 1, 2, 2, 5, 9, 7, 7), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Join(nil, tc.a, tc.b); !got.Equal(tc.join) {
				t.Errorf("Join = %v, want %v", got, tc.join)
			}
			if got := Join(nil, tc.b, tc.a); !got.Equal(tc.join) {
				t.Errorf("Join reversed = %v, want %v", got, tc.join)
			}
			if got := tc.a.Descends(tc.b); got != tc.aDescendsB {
				t.Errorf("a.Descends(b) = %v", got)
			}
			if got := tc.b.Descends(tc.a); got != tc.bDescendsA {
				t.Errorf("b.Descends(a) = %v", got)
			}
		})
	}
}

func TestWithNeverLowers(t *testing.T) {
	c := clk(1, 5)
	if got := c.With(nil, 1, 3).Get(1); got != 5 {
		t.Fatalf("With lowered counter to %d", got)
	}
	if got := c.With(nil, 1, 7).Get(1); got != 7 {
		t.Fatalf("With did not raise: %d", got)
	}
	if got := c.Get(1); got != 5 {
		t.Fatalf("With modified its receiver: %d", got)
	}
}

func TestClockEncodingRoundTrip(t *testing.T) {
	for _, c := range []Clock{nil, clk(1, 1), clk(1, 1, 2, 300, 1<<63, 1<<40)} {
		b := AppendClock(nil, c)
		got, n, err := DecodeClock(nil, b)
		if err != nil || n != len(b) || !got.Equal(c) {
			t.Fatalf("round trip of %v: got %v n=%d err=%v", c, got, n, err)
		}
	}
}

func TestDecodeClockRejects(t *testing.T) {
	good := AppendClock(nil, clk(1, 1, 2, 2))
	unsorted := AppendClock(nil, Clock{{2, 1}, {1, 1}})
	dup := AppendClock(nil, Clock{{1, 1}, {1, 2}})
	zero := AppendClock(nil, Clock{{1, 0}})
	tests := map[string][]byte{
		"bad format":   {9, 0},
		"truncated":    good[:len(good)-1],
		"no count":     {clockFormat},
		"unsorted":     unsorted,
		"duplicate":    dup,
		"zero counter": zero,
		"huge count":   {clockFormat, 0xff, 0xff, 0xff, 0x7f},
	}
	for name, b := range tests {
		if _, _, err := DecodeClock(nil, b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func FuzzDecodeClock(f *testing.F) {
	f.Add(AppendClock(nil, clk(1, 1, 2, 300)))
	f.Add([]byte{clockFormat, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, n, err := DecodeClock(nil, b)
		if err != nil {
			return
		}
		// Every accepted clock is sorted and canonical, and survives a
		// round trip through its own encoding.
		re := AppendClock(nil, c)
		c2, n2, err := DecodeClock(nil, re)
		if err != nil || n2 != len(re) || !c2.Equal(c) {
			t.Fatalf("decoded %x as %v; its encoding %x decodes as %v (%v)", b[:n], c, re, c2, err)
		}
	})
}

// The scenario the paper and Riak's sibling-explosion bug are about: two
// clients read the same state, both write through the same node.
func TestSameContextSameNodeMakesSiblings(t *testing.T) {
	const node Actor = 7
	var clock Clock
	var dots []Dot
	write := func(ctx Clock) Dot {
		d := NextDot(clock, Context{Clock: ctx}, node)
		kept := dots[:0:0]
		for _, x := range dots {
			if Survives(Context{Clock: ctx}, x) {
				kept = append(kept, x)
			}
		}
		dots = append(kept, d)
		clock = Advance(nil, clock, ctx, d)
		return d
	}
	first := write(nil)
	ctx := slices.Clone(clock) // both clients read here
	a := write(ctx)
	b := write(ctx)
	if a == b {
		t.Fatalf("two writes got the same dot %v", a)
	}
	if !slices.Equal(dots, []Dot{a, b}) {
		t.Fatalf("siblings = %v, want both %v and %v (and not %v)", dots, a, b, first)
	}
	// A write that read both resolves them.
	c := write(slices.Clone(clock))
	if !slices.Equal(dots, []Dot{c}) {
		t.Fatalf("after resolving write siblings = %v, want [%v]", dots, c)
	}
}

// model is a replica in the randomized test: DVV state plus, for checking,
// the set of writes whose effects have reached it.
type replica struct {
	actor Actor
	clock Clock
	dots  []Dot
	seen  map[Dot]bool
}

// TestRandomHistoriesMatchCausality drives random writes (with contexts read
// from random replicas, possibly stale) and random pairwise merges, then
// merges everything and checks the surviving siblings are exactly the writes
// no other write causally superseded: nothing concurrent is lost, nothing
// superseded comes back.
func TestRandomHistoriesMatchCausality(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed*31))
		nrep := 2 + rng.IntN(3)
		reps := make([]*replica, nrep)
		for i := range reps {
			reps[i] = &replica{actor: Actor(100 + i), seen: map[Dot]bool{}}
		}
		past := map[Dot]map[Dot]bool{} // write -> writes it superseded (causal past)
		for step := 0; step < 60; step++ {
			switch rng.IntN(3) {
			case 0, 1: // a client reads at r, writes through w
				r, w := reps[rng.IntN(nrep)], reps[rng.IntN(nrep)]
				ctx := slices.Clone(r.clock)
				if rng.IntN(5) == 0 {
					ctx = nil // a blind write
				}
				readSeen := map[Dot]bool{}
				for d := range r.seen {
					if ctx.Covers(d) {
						readSeen[d] = true
					}
				}
				d := NextDot(w.clock, Context{Clock: ctx}, w.actor)
				kept := w.dots[:0:0]
				for _, x := range w.dots {
					if Survives(Context{Clock: ctx}, x) {
						kept = append(kept, x)
					}
				}
				w.dots = append(kept, d)
				w.clock = Advance(nil, w.clock, ctx, d)
				past[d] = readSeen
				for x := range readSeen {
					w.seen[x] = true
				}
				w.seen[d] = true
			case 2:
				a, b := reps[rng.IntN(nrep)], reps[rng.IntN(nrep)]
				mergeInto(a, b)
			}
		}
		for i := range reps {
			for j := range reps {
				mergeInto(reps[i], reps[j])
			}
		}
		for i := range reps {
			for j := range reps {
				mergeInto(reps[i], reps[j])
			}
		}
		var want []Dot
		for d := range reps[0].seen {
			superseded := false
			for x := range reps[0].seen {
				if past[x][d] {
					superseded = true
					break
				}
			}
			if !superseded {
				want = append(want, d)
			}
		}
		slices.SortFunc(want, cmpDot)
		for _, r := range reps {
			got := slices.Clone(r.dots)
			slices.SortFunc(got, cmpDot)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d replica %d: siblings %v, want %v", seed, r.actor, got, want)
			}
			if !r.clock.Equal(reps[0].clock) {
				t.Fatalf("seed %d: clocks differ after full merge", seed)
			}
		}
	}
}

// epochReplica is a replica that picks its actor per key as the engine
// does: an actor of its own incarnation already in the key's clock (its
// whole history for the key is here), else a fresh epoch never used. It
// tracks which write each sibling carries (vals), so that two writes
// given the same dot are told apart.
type epochReplica struct {
	incarnation uint64
	epoch       uint64
	clock       Clock
	dots        []Dot
	vals        map[Dot]int // dot → the write it carries
	seen        map[int]bool
}

func (r *epochReplica) actorFor() Actor {
	best := Actor(0)
	for _, e := range r.clock {
		if uint64(e.Actor)>>16 == r.incarnation && e.Actor > best {
			best = e.Actor
		}
	}
	if best != 0 {
		return best
	}
	r.epoch++
	return Actor(r.incarnation<<16 | r.epoch)
}

// merge takes b's state into a, keeping a's payload for a dot both hold.
func (a *epochReplica) merge(b *epochReplica) {
	keepA := make([]bool, len(a.dots))
	keepB := make([]bool, len(b.dots))
	clock := Merge(nil, a.clock, a.dots, b.clock, b.dots, keepA, keepB)
	var dots []Dot
	vals := map[Dot]int{}
	for i, d := range a.dots {
		if keepA[i] {
			dots = append(dots, d)
			vals[d] = a.vals[d]
		}
	}
	for j, d := range b.dots {
		if keepB[j] {
			dots = append(dots, d)
			vals[d] = b.vals[d]
		}
	}
	a.clock, a.dots, a.vals = clock, dots, vals
	for w := range b.seen {
		a.seen[w] = true
	}
}

// TestRandomHistoriesWithForgettingAndChains is the causality model with
// what a cluster adds: a replica forgets a key after handing its state to
// every other replica (ownership handoff, a reap), and clients chain a
// second write on the context the first one returned (the writer's
// context plus its own dot). Writes after forgetting must be neither
// mistaken for old ones nor take concurrent siblings with them, and a
// chain must supersede only what its writer saw.
func TestRandomHistoriesWithForgettingAndChains(t *testing.T) {
	for seed := uint64(1); seed <= 500; seed++ {
		if err := forgettingHistory(seed, (*epochReplica).actorFor, true); err != "" {
			t.Fatal(err)
		}
	}
}

// TestForgettingModelBites checks that the model above catches the two
// bugs it is there for: one actor per node (a re-created key's new writes
// reuse old dots) and a chained context with the dot folded into its
// clock (it covers siblings the writer never saw).
func TestForgettingModelBites(t *testing.T) {
	fixed := func(r *epochReplica) Actor { return Actor(r.incarnation << 16) }
	for _, c := range []struct {
		name       string
		actor      func(*epochReplica) Actor
		exceptDots bool
	}{{"one actor per node", fixed, true}, {"folded chain context", (*epochReplica).actorFor, false}} {
		caught := false
		for seed := uint64(1); seed <= 500 && !caught; seed++ {
			caught = forgettingHistory(seed, c.actor, c.exceptDots) != ""
		}
		if !caught {
			t.Errorf("%s: 500 histories passed", c.name)
		}
	}
}

// forgettingHistory runs one random history and returns what went wrong.
// Without exceptDots a chained write's context folds its dot into the
// clock, as the engine once did.
func forgettingHistory(seed uint64, actorFor func(*epochReplica) Actor, exceptDots bool) string {
	rng := rand.New(rand.NewPCG(seed, seed*77))
	nrep := 2 + rng.IntN(3)
	reps := make([]*epochReplica, nrep)
	for i := range reps {
		reps[i] = &epochReplica{incarnation: uint64(100 + i), vals: map[Dot]int{}, seen: map[int]bool{}}
	}
	past := map[int]map[int]bool{} // write → the writes its context covered
	nextID := 0
	write := func(w *epochReplica, ctx Context, readSeen map[int]bool) Dot {
		d := NextDot(w.clock, ctx, actorFor(w))
		kept := w.dots[:0:0]
		for _, x := range w.dots {
			if Survives(ctx, x) {
				kept = append(kept, x)
			} else {
				delete(w.vals, x)
			}
		}
		nextID++
		w.dots = append(kept, d)
		w.vals[d] = nextID
		w.clock = Advance(nil, w.clock, ctx.Clock, d)
		past[nextID] = readSeen
		for x := range readSeen {
			w.seen[x] = true
		}
		w.seen[nextID] = true
		return d
	}
	covered := func(r *epochReplica, ctx Context) map[int]bool {
		out := map[int]bool{}
		for _, d := range r.dots {
			if ctx.Covers(d) {
				out[r.vals[d]] = true
			}
		}
		// What the reader's clock covers beyond its siblings was superseded
		// by writes it saw; those are in the past of what it holds.
		for _, d := range r.dots {
			for x := range past[r.vals[d]] {
				out[x] = true
			}
		}
		return out
	}
	for step := 0; step < 80; step++ {
		switch rng.IntN(6) {
		case 0, 1, 2: // read at r, write through w, maybe chain a second write
			r, w := reps[rng.IntN(nrep)], reps[rng.IntN(nrep)]
			ctx := Context{Clock: slices.Clone(r.clock)}
			readSeen := covered(r, ctx)
			if rng.IntN(5) == 0 {
				ctx, readSeen = Context{}, map[int]bool{}
			}
			d := write(w, ctx, readSeen)
			if rng.IntN(3) == 0 {
				next := ctx.With(Context{}, d)
				if !exceptDots {
					next = Context{Clock: Advance(nil, ctx.Clock, nil, d)}
				}
				seen2 := maps.Clone(readSeen)
				seen2[w.vals[d]] = true
				write(w, next, seen2)
			}
		case 3, 4:
			a, b := reps[rng.IntN(nrep)], reps[rng.IntN(nrep)]
			if a != b {
				a.merge(b)
			}
		case 5: // w hands its state to everyone, then forgets the key
			w := reps[rng.IntN(nrep)]
			for _, o := range reps {
				if o != w {
					o.merge(w)
				}
			}
			w.clock, w.dots, w.vals, w.seen = nil, nil, map[Dot]int{}, map[int]bool{}
		}
	}
	for range 2 {
		for _, a := range reps {
			for _, b := range reps {
				if a != b {
					a.merge(b)
				}
			}
		}
	}
	var want []int
	for id := range past {
		superseded := false
		for x := range past {
			if past[x][id] {
				superseded = true
				break
			}
		}
		if !superseded {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	for _, r := range reps {
		var got []int
		for _, d := range r.dots {
			got = append(got, r.vals[d])
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Sprintf("seed %d replica %d: surviving writes %v, want %v", seed, r.incarnation, got, want)
		}
	}
	return ""
}

func TestContextEncoding(t *testing.T) {
	cases := []Context{
		{},
		{Clock: clk(1, 2)},
		{Clock: clk(1, 2, 5, 9), Dots: []Dot{{1, 4}, {3, 2}, {5, 11}}},
		{Dots: []Dot{{7, 2}}},
	}
	for _, c := range cases {
		b := AppendContext(nil, c)
		got, err := DecodeContext(Context{}, b)
		if err != nil || !got.Clock.Equal(c.Clock) || !slices.Equal(got.Dots, c.Dots) {
			t.Errorf("%v: encoded %x, decoded %v (%v)", c, b, got, err)
		}
	}
	bad := [][]byte{
		{3},
		AppendContext(nil, Context{Clock: clk(1, 2), Dots: []Dot{{1, 2}}}), // covered by the clock
		AppendContext(nil, Context{Clock: clk(1, 2), Dots: []Dot{{1, 3}}}), // follows on: not folded
		AppendContext(nil, Context{Dots: []Dot{{5, 2}, {1, 2}}}),           // unsorted
		append(AppendContext(nil, Context{Dots: []Dot{{7, 2}}}), 0),        // trailing
	}
	for _, b := range bad {
		if _, err := DecodeContext(Context{}, b); err == nil {
			t.Errorf("%x accepted", b)
		}
	}
	// A read's context (format 1) decodes as a clock without dots.
	if got, err := DecodeContext(Context{}, AppendClock(nil, clk(4, 4))); err != nil || !got.Clock.Equal(clk(4, 4)) || got.Dots != nil && len(got.Dots) > 0 {
		t.Errorf("format 1: %v %v", got, err)
	}
}

func TestContextWith(t *testing.T) {
	c := Context{Clock: clk(1, 3), Dots: []Dot{{2, 5}}}
	got := c.With(Context{}, Dot{1, 9})
	if !slices.Equal(got.Dots, []Dot{{1, 9}, {2, 5}}) {
		t.Errorf("With(1:9) dots %v", got.Dots)
	}
	if got := c.With(Context{}, Dot{1, 2}); len(got.Dots) != 1 {
		t.Errorf("a covered dot was added: %v", got.Dots)
	}
	// A dot that follows on from the clock folds in, and so does the one
	// that then follows on: a chain through one node stays small.
	c = Context{Clock: clk(1, 3), Dots: []Dot{{1, 5}}}
	if got := c.With(Context{}, Dot{1, 4}); !got.Clock.Equal(clk(1, 5)) || len(got.Dots) != 0 {
		t.Errorf("With(1:4) = %v, want clock 1:5 and no dots", got)
	}
	ctx := Context{}
	for n := uint64(1); n <= 5000; n++ {
		ctx = ctx.With(Context{}, Dot{9, n})
	}
	if len(ctx.Dots) != 0 || ctx.Clock.Get(9) != 5000 {
		t.Errorf("a 5,000-write chain: %d dots, clock %v", len(ctx.Dots), ctx.Clock)
	}
}

func cmpDot(a, b Dot) int {
	if a.Less(b) {
		return -1
	}
	if b.Less(a) {
		return 1
	}
	return 0
}

func mergeInto(a, b *replica) {
	keepA := make([]bool, len(a.dots))
	keepB := make([]bool, len(b.dots))
	clock := Merge(nil, a.clock, a.dots, b.clock, b.dots, keepA, keepB)
	var dots []Dot
	for i, d := range a.dots {
		if keepA[i] {
			dots = append(dots, d)
		}
	}
	for j, d := range b.dots {
		if keepB[j] {
			dots = append(dots, d)
		}
	}
	a.clock, a.dots = clock, dots
	for d := range b.seen {
		a.seen[d] = true
	}
}

func BenchmarkAdvance(b *testing.B) {
	clock := clk(1, 10, 2, 20, 3, 30)
	ctx := clk(1, 9, 2, 20, 3, 30)
	var dst Clock
	b.ReportAllocs()
	for b.Loop() {
		d := NextDot(clock, Context{Clock: ctx}, 2)
		dst = Advance(dst, clock, ctx, d)
	}
}

// FuzzDecodeContext: no input panics the decoder, and every accepted
// context is canonical: its re-encoding decodes to the same context.
func FuzzDecodeContext(f *testing.F) {
	f.Add(AppendContext(nil, Context{Clock: clk(1, 2), Dots: []Dot{{3, 4}}}))
	f.Add(AppendClock(nil, clk(1, 1)))
	f.Add([]byte{contextFormat, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeContext(Context{}, b)
		if err != nil {
			return
		}
		again, err := DecodeContext(Context{}, AppendContext(nil, c))
		if err != nil || !again.Clock.Equal(c.Clock) || !slices.Equal(again.Dots, c.Dots) {
			t.Fatalf("%x decoded as %v, re-encoded to %v (%v)", b, c, again, err)
		}
	})
}
