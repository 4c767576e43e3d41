package cluster

import (
	"fmt"

	"github.com/dynamo-kv/dynamo/engine/quorum"
)

// writeRound is a coordinated write after the coordinator's own copy is
// written: where the record goes, which owners are owed it and who keeps
// that hint, and when the caller hears the outcome. It is pure (no
// goroutines, clocks or I/O): the driver (Node.coordinate) feeds it each
// replica's answer and carries out the actions it returns, in order.
//
// The rules, Dynamo's sloppy quorum with this store's hints:
//   - The record goes to every other target at once. The coordinator's
//     own write is the first acknowledgement.
//   - The caller is answered as soon as the outcome is known: Won at W
//     acknowledgements, Lost when too few replicas can still acknowledge.
//     The round goes on after that, so that N copies exist.
//   - A replica that fails hands its slot to the next spare, even after
//     the answer, and the spare is told whom it stands in for; the
//     coordinator, which holds the record too, keeps a hint for that owner.
//   - With no spare left, only the coordinator knows that owner missed the
//     write (which may already be acknowledged), so its hint is durable.
//   - A replica that answers holding more than it was sent (history the
//     coordinator lacked) makes the round end in a repair of the key.
type writeRound struct {
	need     int
	tracker  quorum.Tracker
	spares   []target
	pending  int  // sends not answered yet
	sent     int  // copies sent, the coordinator's included: the next replica's rank
	answered bool // the caller has its outcome
	diverged bool
}

// writeAction is one thing the driver must do.
type writeAction struct {
	kind writeActionKind
	// actSend: the replica, and its rank among the copies (the
	// coordinator's is 0), which decides whether it writes durably.
	to   target
	rank int
	// actHint: the owner this node keeps a hint for; durable when only
	// this node knows the owner missed the write. late marks a failure
	// found after the caller had its answer.
	owner   string
	durable bool
	late    bool
	// actAnswer: the outcome (Won or Lost) and the acknowledgements so far.
	outcome quorum.Outcome
	acked   int
}

type writeActionKind uint8

const (
	actSend   writeActionKind = iota + 1 // send the record to a replica
	actHint                              // keep a hint on this node
	actAnswer                            // answer the caller
	actRepair                            // the round is over: repair the key
)

// newWriteRound starts a round that needs need acknowledgements, the
// coordinator's own counted, with the record going to others and spares
// standing by. The round is over when done reports true.
func newWriteRound(need int, others, spares []target) (*writeRound, []writeAction) {
	w := &writeRound{need: need, tracker: quorum.New(need, 1+len(others), 0), spares: spares, sent: 1}
	w.tracker.Ack() // the coordinator's own write
	var acts []writeAction
	for _, tg := range others {
		acts = w.send(acts, tg)
	}
	return w, w.answerIfDecided(acts)
}

// ack is a replica's acknowledgement; diverged reports that it holds more
// than it was sent.
func (w *writeRound) ack(diverged bool) []writeAction {
	w.pending--
	w.diverged = w.diverged || diverged
	w.tracker.Ack()
	return w.finishIfDone(w.answerIfDecided(nil))
}

// fail is a replica's failure to take the record.
func (w *writeRound) fail(failed target) []writeAction {
	w.pending--
	owner := failed.hintFor
	if owner == "" {
		owner = failed.id
	}
	var acts []writeAction
	if len(w.spares) > 0 {
		sp := w.spares[0]
		w.spares = w.spares[1:]
		sp.hintFor = owner
		// The spare keeps a hint for the owner; so does this node, which
		// holds the record too. The tracker is untouched: the spare's
		// answer stands for the failed replica's.
		acts = append(acts, writeAction{kind: actHint, owner: owner})
		return w.send(acts, sp)
	}
	w.tracker.Fail()
	acts = append(acts, writeAction{kind: actHint, owner: owner, durable: true, late: w.answered})
	return w.finishIfDone(w.answerIfDecided(acts))
}

// done reports whether every send has been answered.
func (w *writeRound) done() bool { return w.pending == 0 }

func (w *writeRound) send(acts []writeAction, tg target) []writeAction {
	acts = append(acts, writeAction{kind: actSend, to: tg, rank: w.sent})
	w.sent++
	w.pending++
	return acts
}

func (w *writeRound) answerIfDecided(acts []writeAction) []writeAction {
	if o := w.tracker.Outcome(); !w.answered && o != quorum.Pending {
		w.answered = true
		acts = append(acts, writeAction{kind: actAnswer, outcome: o, acked: w.tracker.Acked()})
	}
	return acts
}

// finishIfDone ends the round once nothing is pending: an answer if none
// was given (it cannot be Won then), and the repair a diverged replica
// asked for.
func (w *writeRound) finishIfDone(acts []writeAction) []writeAction {
	if w.pending > 0 {
		return acts
	}
	if !w.answered {
		w.answered = true
		acts = append(acts, writeAction{kind: actAnswer, outcome: quorum.Lost, acked: w.tracker.Acked()})
	}
	if w.diverged {
		acts = append(acts, writeAction{kind: actRepair})
	}
	return acts
}

// String is the action as the golden traces show it.
func (a writeAction) String() string {
	switch a.kind {
	case actSend:
		if a.to.hintFor != "" {
			return fmt.Sprintf("send to %s for %s (copy %d)", a.to.id, a.to.hintFor, a.rank)
		}
		return fmt.Sprintf("send to %s (copy %d)", a.to.id, a.rank)
	case actHint:
		s := "hint for " + a.owner
		if a.durable {
			s += ", durable"
		}
		if a.late {
			s += ", after the answer"
		}
		return s
	case actAnswer:
		return fmt.Sprintf("answer %s, %d acknowledged", a.outcome, a.acked)
	case actRepair:
		return "repair the key"
	}
	return "?"
}
