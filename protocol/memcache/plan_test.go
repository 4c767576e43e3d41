package memcache

import (
	"slices"
	"strings"
	"testing"
)

// parseBatch parses a pipeline written one command per line ("|" stands
// for the CRLF inside a storage command) into commands.
func parseBatch(t *testing.T, pipeline string) []Command {
	t.Helper()
	in := []byte(strings.ReplaceAll(strings.ReplaceAll(pipeline+"\n", "\n", "\r\n"), "|", "\r\n"))
	p := NewParser(DefaultMaxItemSize)
	var cmds []Command
	for len(in) > 0 {
		var cmd Command
		n, err := p.Next(in, &cmd)
		if err != nil || n == 0 {
			t.Fatalf("parsing %q: n=%d err=%v", in, n, err)
		}
		in = in[n:]
		if cmd.Op != OpNone {
			cmds = append(cmds, cmd)
		}
	}
	return cmds
}

func TestPlannerWaves(t *testing.T) {
	for _, tc := range []struct {
		name, pipeline string
		waves          []int
	}{
		{"distinct keys run together", "get a\nget b\nset c 0 0 1|x\ndelete d", []int{0, 0, 0, 0}},
		{"a key keeps its order", "set a 0 0 1|x\nget a\nget b\nset a 0 0 1|y\nget a", []int{0, 1, 0, 2, 3}},
		{"reads of one key keep their order too", "get a\nmg a v\nget a", []int{0, 1, 2}},
		{"keyless commands go anywhere", "get a\nget a\nversion\nmn", []int{0, 1, 0, 0}},
		{"stats waits for everything before it", "get a\nget a\nstats\nget b", []int{0, 1, 2, 3}},
		{"flush_all is a barrier", "set a 0 0 1|x\nflush_all\nget a\nget b", []int{0, 1, 2, 2}},
		{"a multi-get streams alone", "get a\nget b c\nget d\nget e", []int{0, 1, 2, 2}},
		{"so does a multi-key getv", "set b 0 0 1|x\ngetv a b\ngetv c", []int{0, 1, 2}},
		{"base64 meta keys are barriers", "mg YQ== b v\nmg a v\nmg b v", []int{0, 1, 1}},
		{"an error reply has no order", "get a\nbogus\nget a", []int{0, 0, 1}},
		{"incr and touch are keyed", "incr n 1\ntouch n 10\nincr m 1", []int{0, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds := parseBatch(t, tc.pipeline)
			var p Planner
			n, waves := p.Plan(cmds, nil)
			if !slices.Equal(waves, tc.waves) {
				t.Fatalf("waves %v, want %v", waves, tc.waves)
			}
			if want := slices.Max(tc.waves) + 1; n != want {
				t.Fatalf("%d waves, want %d", n, want)
			}
			// A barrier is alone in its wave.
			for i := range cmds {
				if !Barrier(&cmds[i]) {
					continue
				}
				for j := range cmds {
					if j != i && waves[j] == waves[i] {
						t.Fatalf("barrier %d (%s) shares wave %d with %d", i, cmds[i].Op, waves[i], j)
					}
				}
			}
		})
	}
}

// TestPlannerKeepsEveryKeysOrder checks the planner's promise on random
// batches: any two commands that name a key in common, or of which one is
// a barrier, are in increasing waves in request order.
func TestPlannerKeepsEveryKeysOrder(t *testing.T) {
	ops := []string{"get %s", "set %s 0 0 1|x", "delete %s", "incr %s 1", "mg %s v", "get %s %s", "getv %s %s", "stats", "version", "mn"}
	keys := []string{"a", "b", "c"}
	var p Planner
	var waves []int
	seed := uint64(1)
	next := func(n int) int { seed = seed*6364136223846793005 + 1442695040888963407; return int(seed>>33) % n }
	for range 2000 {
		var lines []string
		for range 1 + next(12) {
			op := ops[next(len(ops))]
			lines = append(lines, strings.ReplaceAll(op, "%s", keys[next(len(keys))]))
		}
		cmds := parseBatch(t, strings.Join(lines, "\n"))
		_, waves = p.Plan(cmds, waves)
		for i := range cmds {
			for j := i + 1; j < len(cmds); j++ {
				ordered := Barrier(&cmds[i]) || Barrier(&cmds[j]) || sharesKey(&cmds[i], &cmds[j])
				if ordered && waves[i] >= waves[j] {
					t.Fatalf("%q: commands %d and %d must be ordered, waves %v", lines, i, j, waves)
				}
			}
		}
	}
}

func sharesKey(a, b *Command) bool {
	if unordered(a) || unordered(b) {
		return false
	}
	ka, kb := a.Keys, b.Keys
	if len(ka) == 0 {
		ka = [][]byte{a.Key}
	}
	if len(kb) == 0 {
		kb = [][]byte{b.Key}
	}
	for _, x := range ka {
		for _, y := range kb {
			if string(x) == string(y) {
				return true
			}
		}
	}
	return false
}
