// Package quorum is the bookkeeping of one sloppy-quorum request: how many
// replicas must answer, how many have, how many are still in flight, and how
// many fallback candidates remain to be asked when one fails. It is pure:
// the coordinator does the sending and feeds outcomes in.
//
// A request starts with the first N healthy nodes of a key's extended
// preference list in flight. Each failure hands the slot to the next
// candidate (a fallback that stores a hint for the intended owner), so the
// request fails only when fewer than the required number of nodes in the
// whole extended list can answer (Dynamo §4.6).
package quorum

// Outcome is the state of a request.
type Outcome uint8

const (
	Pending Outcome = iota // not decided yet
	Won                    // enough replicas acknowledged
	Lost                   // too few can still acknowledge
)

func (o Outcome) String() string {
	switch o {
	case Won:
		return "won"
	case Lost:
		return "lost"
	}
	return "pending"
}

// Tracker counts one request's answers. The zero value is not useful; use
// New.
type Tracker struct {
	need       int // acknowledgements required (R or W)
	acked      int
	failed     int
	inFlight   int
	candidates int // not yet asked
}

// New starts a request that needs `need` acknowledgements, with `asked`
// replicas asked at once and `spare` further candidates to ask one per
// failure.
func New(need, asked, spare int) Tracker {
	return Tracker{need: need, inFlight: asked, candidates: spare}
}

// Ack records a success and returns the outcome.
func (t *Tracker) Ack() Outcome {
	t.inFlight--
	t.acked++
	return t.Outcome()
}

// Fail records a failure. next reports whether the caller should ask the
// next candidate in place of the failed replica.
func (t *Tracker) Fail() (o Outcome, next bool) {
	t.inFlight--
	t.failed++
	if t.acked < t.need && t.candidates > 0 {
		t.candidates--
		t.inFlight++
		next = true
	}
	return t.Outcome(), next
}

// Outcome is Won once `need` replicas acknowledged, Lost once that can no
// longer happen, Pending otherwise.
func (t *Tracker) Outcome() Outcome {
	switch {
	case t.acked >= t.need:
		return Won
	case t.acked+t.inFlight+t.candidates < t.need:
		return Lost
	}
	return Pending
}

// Hedge asks the next candidate before any failure (a speculative
// request): it reports whether there was one to ask, while the outcome is
// still pending.
func (t *Tracker) Hedge() bool {
	if t.Outcome() != Pending || t.candidates == 0 {
		return false
	}
	t.candidates--
	t.inFlight++
	return true
}

// Acked, Failed and InFlight report the counts.
func (t *Tracker) Acked() int    { return t.acked }
func (t *Tracker) Failed() int   { return t.failed }
func (t *Tracker) InFlight() int { return t.inFlight }
