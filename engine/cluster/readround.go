package cluster

import (
	"fmt"
	"slices"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/quorum"
)

// readRound is a quorum read: which replicas are asked, when the caller
// has its answer, and the causal merge of what they hold. Like writeRound
// it is pure: the driver (Node.Get) fetches what it is told to and feeds
// back each reply.
//
// The rules: every target is asked at once; a failed replica hands its
// slot to the next spare while R is still within reach; the answer is
// the merge of the first R records (a replica without the key counts as
// an answer), or Lost when too few replicas can still answer. Replies
// that come after the answer are the driver's to collect for read
// repair (see repairPlan).
//
// A miss counts only from an owner, or once no owner is left to answer:
// a fallback (or a spare, or a replica left out as catching up) holds
// only what was written while it stood in, so its miss says nothing
// about the key while an owner that may hold it has yet to answer. Held
// misses count as soon as the last owner asked has answered or failed,
// so a round without a reachable owner still answers, a miss included
// (sloppy quorum). A record found counts from anyone at once.
type readRound struct {
	tracker quorum.Tracker
	spares  []target
	hedges  int     // spares at the head of spares to ask on hedge (left out by askR or as catching up)
	got     []reply // every reply so far, in arrival order
	merged  []byte  // the merge of the records found; nil while none
	over    bool
	// owners are the owners asked that have not answered; held counts
	// the misses from others waiting for them (still in the tracker's
	// in-flight count, which inFlight corrects).
	owners    []string
	held      int
	ownersBuf [4]string // owners' storage for N <= 4: no allocation per read
	gotBuf    [4]reply  // got's, likewise
}

// readAction is one thing the driver must do: fetch the record from a
// replica, answer the caller (Won with the merged record, or Lost), or,
// with err set, fail the read with that error (a record that cannot be
// merged: no quorum question, the read is over).
type readAction struct {
	fetch   *target
	answer  bool
	outcome quorum.Outcome
	err     error
}

// newReadRound asks the targets and, when they are fewer than r, as many
// spares as make up r: then a round still pending always has a replica
// in flight (every failure that leaves R in reach is replaced), and the
// driver never waits for nothing. The first hedges spares are replicas
// left out of the targets (by askR, or as catching up, behind.go): hedge
// asks them.
func newReadRound(r int, targets, spares []target, hedges int) (*readRound, []readAction) {
	owners := len(targets) // the targets proper; spares appended below are not owners
	if short := r - len(targets); short > 0 {
		short = min(short, len(spares))
		targets = append(targets[:len(targets):len(targets)], spares[:short]...)
		spares = spares[short:]
		hedges = max(0, hedges-short)
	}
	rr := &readRound{tracker: quorum.New(r, len(targets), len(spares)), spares: spares, hedges: min(hedges, len(spares))}
	rr.owners, rr.got = rr.ownersBuf[:0], rr.gotBuf[:0]
	for _, tg := range targets[:owners] {
		if tg.hintFor == "" {
			rr.owners = append(rr.owners, tg.id)
		}
	}
	acts := make([]readAction, 0, len(targets))
	for i := range targets {
		acts = append(acts, readAction{fetch: &targets[i]})
	}
	return rr, acts
}

// reply takes one replica's answer. After the round is over, replies are
// only recorded.
func (rr *readRound) reply(r reply) []readAction {
	rr.got = append(rr.got, r)
	if rr.over {
		return nil
	}
	owner := false
	if i := slices.Index(rr.owners, r.t.id); i >= 0 && r.t.hintFor == "" {
		owner = true
		rr.owners = slices.Delete(rr.owners, i, i+1)
	}
	if r.err == nil && !r.ok && !owner && len(rr.owners) > 0 {
		rr.held++
		return nil
	}
	if len(rr.owners) == 0 {
		// The last owner has answered: the misses held for it count, before
		// this reply decides whether a spare is needed.
		for ; rr.held > 0; rr.held-- {
			rr.tracker.Ack()
		}
	}
	if r.err != nil {
		outcome, next := rr.tracker.Fail()
		var acts []readAction
		if next {
			acts = append(acts, rr.nextSpare())
		}
		return rr.answerIfDecided(outcome, acts)
	}
	if r.ok {
		switch {
		case rr.merged == nil:
			rr.merged = r.rec // the first record needs no merge (and no copy)
		case string(r.rec) == string(rr.merged):
			// Replicas in step hold the same bytes: the common case, and
			// a merge would decode both and encode the same record.
		default:
			m, err := engine.MergeRecords(nil, rr.merged, r.rec)
			if err != nil {
				rr.over = true
				return []readAction{{err: err}}
			}
			rr.merged = m
		}
	}
	return rr.answerIfDecided(rr.tracker.Ack(), nil)
}

// nextSpare takes the next spare to ask.
func (rr *readRound) nextSpare() readAction {
	sp := rr.spares[0]
	rr.spares = rr.spares[1:]
	rr.hedges = max(0, rr.hedges-1)
	return readAction{fetch: &sp}
}

// hedge asks the replicas left out of the targets that no failure has
// brought in yet, while the round is undecided: the driver calls it when
// the targets are slow to make R. A target that hangs fails only when the
// read's deadline passes, too late for a spare to answer, and a round
// without the replicas it left out would then answer from fewer copies
// than one that had asked them (or from a non-owner's miss).
func (rr *readRound) hedge() []readAction {
	var acts []readAction
	for rr.hedges > 0 && !rr.over && rr.tracker.Hedge() {
		acts = append(acts, rr.nextSpare())
	}
	return acts
}

func (rr *readRound) answerIfDecided(o quorum.Outcome, acts []readAction) []readAction {
	if o == quorum.Pending {
		return acts
	}
	rr.over = true
	return append(acts, readAction{answer: true, outcome: o})
}

// inFlight is how many asked replicas have not answered.
func (rr *readRound) inFlight() int { return rr.tracker.InFlight() - rr.held }

// repairPlan is read repair's decision over the replies a read collected:
// the merge of every record found, and the replicas that answered with
// something other than it (a replica without the key included). Nothing
// to repair when every replica that answered holds the same bytes, or
// none holds the key.
func repairPlan(got []reply) (merged []byte, stale []target, err error) {
	if inSync(got) {
		return nil, nil, nil // the common case: no merge, no allocation
	}
	for _, r := range got {
		if r.err == nil && r.ok {
			if merged, err = engine.MergeRecords(nil, merged, r.rec); err != nil {
				return nil, nil, err
			}
		}
	}
	if merged == nil {
		return nil, nil, nil
	}
	for _, r := range got {
		if r.err == nil && string(r.rec) != string(merged) {
			stale = append(stale, r.t)
		}
	}
	return merged, stale, nil
}

// inSync reports whether every reply found the key with byte-identical
// records: then no replica that answered is stale, and merging them would
// only allocate.
func inSync(got []reply) bool {
	for _, r := range got {
		if r.err != nil || !r.ok || string(r.rec) != string(got[0].rec) {
			return false
		}
	}
	return true
}

// String is the action as the golden traces show it.
func (a readAction) String() string {
	switch {
	case a.fetch != nil && a.fetch.hintFor != "":
		return fmt.Sprintf("fetch from %s (for %s)", a.fetch.id, a.fetch.hintFor)
	case a.fetch != nil:
		return "fetch from " + a.fetch.id
	case a.err != nil:
		return fmt.Sprintf("fail: %v", a.err)
	}
	return "answer " + a.outcome.String()
}
