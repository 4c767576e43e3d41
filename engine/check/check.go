// Package check is the checker of the fault harness (cmd/dynchaos) and the
// simulator (engine/sim): given every request the clients made and what
// they were told, and what each node answers once the faults have healed,
// it counts the ways the store broke its promises. It is pure: histories
// in, a Report out.
//
// What a history may end in is decided by outcome, not by hope:
//
//   - OK: the client got the answer that says the write took effect.
//   - Failed: the server answered with an error after coordinating the
//     request (a write it could not get W acknowledgements for). Dynamo
//     does not roll such a write back, so it may still appear, but it was
//     timestamped before the error was sent, and so before any later
//     request of the same client.
//   - Unknown: no answer (timeout, connection lost) or an answer that says
//     the outcome is unknown. The write may take effect at any time after
//     it was sent, even after requests that followed it.
package check

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Outcome is what a client learnt of one request.
type Outcome uint8

const (
	OK Outcome = iota
	Failed
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Kind is the operation of a register write.
type Kind uint8

const (
	Set    Kind = iota // a value, with an expiry when Expires is set
	Delete             // a tombstone
)

// RegisterOp is one write of a register: a key that one client writes
// sequentially (each op starts after the previous one returned) through
// any node.
type RegisterOp struct {
	Key     string
	Seq     int // position in the client's sequence for this key, from 1
	Kind    Kind
	Value   string    // Set: unique among all writes of the key
	Expires time.Time // Set: when the value expires (zero: never)
	Start   time.Time
	End     time.Time
	Outcome Outcome
	Node    string // the node the client sent it to (for the report)
}

// CounterOp is one incr of a shared counter.
type CounterOp struct {
	Key     string
	Delta   uint64
	Outcome Outcome
	Result  uint64 // the new value, when OK
	// Node and Start, End say where and when it ran, for a trace that
	// explains a number handed out twice; the checks do not use them.
	Node       string
	Start, End time.Time
}

// ElementOp is one addition of an element to a shared set, made by a
// read-merge-write with contexts (getv, union of the siblings, putv).
type ElementOp struct {
	Key     string
	Element string
	Outcome Outcome
	// Node and Start, End say where and when the write ran, for a trace
	// that explains a loss; the checks do not use them.
	Node       string
	Start, End time.Time
}

// Observation is what one node answered for one key after healing.
type Observation struct {
	Node string
	Key  string
	At   time.Time
	Err  string // non-empty: the read failed; nothing else is set
	// Found and Value are a classic get: the last writer's value.
	Found bool
	Value string
	// Siblings are the live values getv returned (tombstones left out).
	Siblings []string
}

// History is everything the clients did and saw.
type History struct {
	Registers []RegisterOp
	Counters  []CounterOp
	// CounterBase is each counter's value before the first incr.
	CounterBase map[string]uint64
	Elements    []ElementOp
	// Final holds every node's answer for every key after healing.
	Final []Observation
}

// Options tune the checker to the server's clock granularity.
type Options struct {
	// ExpirySlack is how far from its nominal expiry a value may still be
	// read or already be gone: memcached expiries are whole seconds.
	ExpirySlack time.Duration
	// ClockSkew is the most two nodes' clocks may differ. Last writer wins
	// orders blind writes by their coordinators' clocks, so a write that
	// ended less than ClockSkew before the last acknowledged one began may
	// still win over it. 0: clocks agree.
	ClockSkew time.Duration
}

// Report counts violations; Examples describes a few of each.
type Report struct {
	RegisterKeys, CounterKeys, SetKeys int
	AckedWrites                        int // OK register writes
	Lost                               int // acknowledged writes gone from every sibling
	Resurrected                        int // deleted, expired or overwritten values read again
	Disagree                           int // keys whose nodes gave different answers
	FailedReads                        int // final reads that failed
	AckedIncrements                    uint64
	LostIncrements                     uint64
	PhantomIncrements                  uint64 // counted beyond every increment attempted
	DuplicateResults                   int    // two acknowledged incrs told the same new value
	AckedElements                      int
	LostElements                       int
	PhantomElements                    int
	Examples                           []string // of violations
	// Notes describe a few things the store allows but a reader of a
	// failing trace wants to see (incr results handed out twice, which a
	// partition allows); they never fail a check.
	Notes []string
}

const maxExamples = 12

func (r *Report) example(format string, args ...any) {
	if len(r.Examples) < maxExamples {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
}

func (r *Report) note(format string, args ...any) {
	if len(r.Notes) < maxExamples {
		r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
	}
}

// Failures is the number of violations of the store's promises.
// Disagreement between nodes is reported separately (convergence), and
// duplicate incr results are a weakening documented for partitions.
func (r *Report) Failures() int {
	return r.Lost + r.Resurrected + int(min(r.LostIncrements, 1<<31)) + int(min(r.PhantomIncrements, 1<<31)) +
		r.LostElements + r.PhantomElements
}

// Check runs every check over h.
func Check(h *History, opts Options) Report {
	var r Report
	finals := map[string][]Observation{}
	for _, o := range h.Final {
		finals[o.Key] = append(finals[o.Key], o)
	}
	checkRegisters(&r, h, finals, opts)
	checkCounters(&r, h, finals)
	checkElements(&r, h, finals)
	return r
}

func checkRegisters(r *Report, h *History, finals map[string][]Observation, opts Options) {
	byKey := map[string][]RegisterOp{}
	for _, op := range h.Registers {
		byKey[op.Key] = append(byKey[op.Key], op)
	}
	for _, key := range sortedKeys(byKey) {
		ops := byKey[key]
		sort.Slice(ops, func(i, j int) bool { return ops[i].Seq < ops[j].Seq })
		r.RegisterKeys++
		for _, op := range ops {
			if op.Outcome == OK {
				r.AckedWrites++
			}
		}
		obs := finals[key]
		agreeing(r, key, obs)
		for _, o := range obs {
			if o.Err != "" {
				r.FailedReads++
				continue
			}
			checkRegister(r, key, ops, o, opts)
		}
	}
}

// agreeing counts a key whose nodes answered differently.
func agreeing(r *Report, key string, obs []Observation) {
	var first *Observation
	for i := range obs {
		o := &obs[i]
		if o.Err != "" {
			continue
		}
		if first == nil {
			first = o
			continue
		}
		if o.Found != first.Found || o.Value != first.Value {
			r.Disagree++
			r.example("%s: %s read %s, %s read %s", key, first.Node, show(first), o.Node, show(o))
			return
		}
	}
}

func show(o *Observation) string {
	if !o.Found {
		return "a miss"
	}
	return fmt.Sprintf("%q", o.Value)
}

// effect says what a register op leaves a classic reader at time t: a
// value, a miss, or either (a value within the slack of its expiry).
type effect struct{ value, miss bool }

func effectAt(op RegisterOp, t time.Time, slack time.Duration) effect {
	switch {
	case op.Kind == Delete:
		return effect{miss: true}
	case op.Expires.IsZero():
		return effect{value: true}
	case t.Before(op.Expires.Add(-slack)):
		return effect{value: true}
	case t.After(op.Expires.Add(slack)):
		return effect{miss: true}
	}
	return effect{value: true, miss: true}
}

// checkRegister judges one node's final answer for a register.
//
// The classic read must show the effect of the last acknowledged write A,
// or of a write that may have taken effect after it: any Unknown write
// (it may land at any time), or a Failed one that came after A. An older
// value is a resurrection; a miss where A's value must be is a loss. The
// getv siblings must still hold A's value (or a later write's, or the
// key must be legitimately empty): otherwise A was lost outright. With
// ClockSkew, writes that ended within it of A's start count as later.
func checkRegister(r *Report, key string, ops []RegisterOp, o Observation, opts Options) {
	last := -1
	for i, op := range ops {
		if op.Outcome == OK {
			last = i
		}
	}
	var allowed []RegisterOp
	for i, op := range ops {
		// One client writes a key in sequence: only with skew can an
		// earlier write end after the last acknowledged one starts.
		skewed := last >= 0 && i < last && op.End.Add(opts.ClockSkew).After(ops[last].Start)
		if i == last || op.Outcome == Unknown || (op.Outcome == Failed && i > last) || skewed {
			allowed = append(allowed, op)
		}
	}
	if last < 0 && !o.Found {
		return // nothing acknowledged, nothing there: fine
	}
	okClassic := false
	missAllowed := last < 0 // nothing acknowledged: a miss is the initial state
	for _, op := range allowed {
		e := effectAt(op, o.At, opts.ExpirySlack)
		if o.Found && e.value && op.Kind == Set && op.Value == o.Value {
			okClassic = true
		}
		if e.miss {
			missAllowed = true
		}
	}
	if !o.Found && missAllowed {
		okClassic = true
	}
	if !okClassic {
		switch {
		case o.Found && seqOf(ops, o.Value) >= 0:
			r.Resurrected++
			r.example("%s on %s: read %q (write %d), but write %d (%s) was acknowledged after it",
				key, o.Node, o.Value, ops[seqOf(ops, o.Value)].Seq, ops[last].Seq, describe(ops[last]))
		case o.Found:
			r.Resurrected++ // a value never written here: count it where it hurts most
			r.example("%s on %s: read %q, which no client wrote to this key", key, o.Node, o.Value)
		default:
			r.Lost++
			r.example("%s on %s: a miss, but write %d (%s) was acknowledged", key, o.Node, ops[last].Seq, describe(ops[last]))
		}
		return
	}
	// The classic answer is possible; the acknowledged value must also
	// still exist as a sibling unless something later may have replaced it.
	if last < 0 || ops[last].Kind != Set {
		return
	}
	a := ops[last]
	if !effectAt(a, o.At, opts.ExpirySlack).value {
		return
	}
	if slices.Contains(o.Siblings, a.Value) {
		return
	}
	for _, op := range allowed {
		if op.Seq != a.Seq && (slices.Contains(o.Siblings, op.Value) || op.Kind == Delete || !op.Expires.IsZero()) {
			return
		}
	}
	if !o.Found {
		return // counted above if it mattered
	}
	r.Lost++
	r.example("%s on %s: write %d (%q) acknowledged, siblings are %q", key, o.Node, a.Seq, a.Value, o.Siblings)
}

func seqOf(ops []RegisterOp, value string) int {
	for i, op := range ops {
		if op.Kind == Set && op.Value == value {
			return i
		}
	}
	return -1
}

func describe(op RegisterOp) string {
	switch {
	case op.Kind == Delete:
		return "a delete"
	case !op.Expires.IsZero():
		return fmt.Sprintf("%q expiring %s", op.Value, op.Expires.Format("15:04:05"))
	}
	return fmt.Sprintf("%q", op.Value)
}

// checkCounters: a counter must end at its base plus every acknowledged
// increment plus some subset of the unacknowledged ones.
func checkCounters(r *Report, h *History, finals map[string][]Observation) {
	type sums struct{ acked, maybe uint64 }
	byKey := map[string]*sums{}
	results := map[string]map[uint64]int{}
	for _, op := range h.Counters {
		s := byKey[op.Key]
		if s == nil {
			s = &sums{}
			byKey[op.Key] = s
			results[op.Key] = map[uint64]int{}
		}
		if op.Outcome == OK {
			s.acked += op.Delta
			r.AckedIncrements += op.Delta
			results[op.Key][op.Result]++
		} else {
			s.maybe += op.Delta
		}
	}
	for _, key := range sortedKeys(byKey) {
		r.CounterKeys++
		s := byKey[key]
		for res, n := range results[key] {
			if n > 1 {
				r.DuplicateResults += n - 1
				r.note("%s: %d acknowledged incrs were all told %d", key, n, res)
			}
		}
		base := h.CounterBase[key]
		obs := finals[key]
		agreeing(r, key, obs)
		worst := uint64(0)
		var phantom uint64
		for _, o := range obs {
			if o.Err != "" {
				r.FailedReads++
				continue
			}
			var v uint64
			if o.Found {
				if _, err := fmt.Sscan(strings.TrimSpace(o.Value), &v); err != nil {
					r.example("%s on %s: counter reads %q", key, o.Node, o.Value)
					worst = max(worst, s.acked)
					continue
				}
			}
			low, high := base+s.acked, base+s.acked+s.maybe
			switch {
			case !o.Found || v < low:
				lost := low - v
				if !o.Found {
					lost = s.acked
				}
				if lost > worst {
					r.example("%s on %s: counter reads %d, at least %d acknowledged", key, o.Node, v, low)
				}
				worst = max(worst, lost)
			case v > high:
				if v-high > phantom {
					r.example("%s on %s: counter reads %d, at most %d attempted", key, o.Node, v, high)
				}
				phantom = max(phantom, v-high)
			}
		}
		r.LostIncrements += worst
		r.PhantomIncrements += phantom
	}
}

// checkElements: every acknowledged addition must be in the union of the
// final siblings on every node, and nothing no client tried may be.
func checkElements(r *Report, h *History, finals map[string][]Observation) {
	acked := map[string]map[string]bool{}
	tried := map[string]map[string]bool{}
	for _, op := range h.Elements {
		if tried[op.Key] == nil {
			tried[op.Key], acked[op.Key] = map[string]bool{}, map[string]bool{}
		}
		tried[op.Key][op.Element] = true
		if op.Outcome == OK {
			acked[op.Key][op.Element] = true
			r.AckedElements++
		}
	}
	for _, key := range sortedKeys(tried) {
		r.SetKeys++
		worst, phantom := 0, 0
		for _, o := range finals[key] {
			if o.Err != "" {
				r.FailedReads++
				continue
			}
			have := map[string]bool{}
			for _, sib := range o.Siblings {
				for _, e := range SplitElements(sib) {
					have[e] = true
				}
			}
			missing := 0
			for e := range acked[key] {
				if !have[e] {
					missing++
					if missing == 1 && worst == 0 {
						r.example("%s on %s: acknowledged element %s is gone", key, o.Node, e)
					}
				}
			}
			extra := 0
			for e := range have {
				if !tried[key][e] {
					extra++
				}
			}
			worst, phantom = max(worst, missing), max(phantom, extra)
		}
		r.LostElements += worst
		r.PhantomElements += phantom
	}
}

// SplitElements parses a set value: elements separated by commas.
func SplitElements(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// JoinElements is the value of a set of elements, sorted.
func JoinElements(set map[string]bool) string {
	out := make([]string, 0, len(set))
	for e := range set {
		out = append(out, e)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
