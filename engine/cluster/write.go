package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/quorum"
)

// Put implements kv.KV. A node in the key's top N coordinates; any
// other node forwards to the first healthy one that is.
func (n *Node) Put(key []byte, req *kv.PutRequest) (kv.PutResult, error) {
	sn := slowNote{start: time.Now()}
	res, err := n.put(key, req, &sn)
	n.foreground(sn.start)
	n.slow.note(n.log, "put", key, &sn, err)
	return res, err
}

func (n *Node) put(key []byte, req *kv.PutRequest, sn *slowNote) (kv.PutResult, error) {
	if len(key) == 0 || len(key) > kv.MaxKeyLen {
		return kv.PutResult{}, kv.ErrKeyTooLong
	}
	if req.W < 0 || req.W > n.opts.N {
		return kv.PutResult{}, kv.ErrBadQuorum
	}
	t := n.topo.Topology()
	rt, err := n.plan(t, key)
	if err != nil {
		return kv.PutResult{}, err
	}
	if conditional(req) {
		return n.putConditional(t, key, req, rt, sn)
	}
	if contains(rt.top, t.Self) {
		return n.coordinate(t, key, req, rt, sn)
	}
	// The owner may need its own write, a replica timeout and one per
	// spare before it answers; wait that long, not less, so a slow answer
	// is not mistaken for a lost request.
	wait := time.Duration(2+n.opts.N) * n.opts.Timeout
	for _, tg := range rt.targets {
		if tg.hintFor != "" {
			break // no healthy owner left to forward to
		}
		if res, err, next := n.forward(t, tg, key, req, wait); !next {
			if n.slow.slow(sn) {
				sn.detail = fmt.Sprintf("forwarded to owner %s; answered after %v", tg.id, time.Since(sn.start).Round(100*time.Microsecond))
			}
			return res, err
		}
		// The request never reached that owner: try the next one.
	}
	// No owner reachable: this node takes the write as a fallback.
	return n.coordinate(t, key, req, rt, sn)
}

// forward sends a write to owner tg to coordinate, waiting up to wait.
// next reports that the caller should try the next owner: the request
// never reached this one, or it may have and the write is unconditional
// (at worst a duplicate sibling of the same value, while the client still
// waits).
//
// The request carries a deadline, half the wait on this node's clock: the
// owner refuses it after that. A forward the network delivers later, when
// this node has moved on (written it elsewhere and answered the client,
// who may have written the key since), would otherwise be applied then,
// stamped then, and supersede the client's later writes (found by the
// simulator, seed 15: a delete held six seconds in a paused node's network
// deleted the value its client set afterwards). Half the wait leaves the
// other half for the two clocks to disagree. A conditional write
// whose outcome is unknown is not retried: the owner may have applied
// it, and applying it again elsewhere could report a stored add as
// failed or count an incr twice.
func (n *Node) forward(t *Topology, tg target, key []byte, req *kv.PutRequest, wait time.Duration) (res kv.PutResult, err error, next bool) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	deadline := n.eng.Now().Add(wait / 2).UnixNano()
	res, err = n.fwd.Put(ctx, t.Addrs[tg.id], key, req, deadline)
	cancel()
	switch delivered := deliveryOf(err); {
	case err == nil:
		n.stats.forwarded.Add(1)
		return res, nil, false
	case errors.Is(err, msg.ErrLateForward):
		return kv.PutResult{}, err, true // refused, not applied: as if never delivered
	case delivered == answered:
		return kv.PutResult{}, causeOf(err), false
	case delivered == maybeDelivered && conditional(req):
		n.stats.unavailable.Add(1)
		return kv.PutResult{}, fmt.Errorf("%w: write forwarded to %s, outcome unknown: %v", kv.ErrUnavailable, tg.id, err), false
	case delivered == maybeDelivered:
		// The request may still be on its way (held in a network, queued
		// on the owner), and the owner applies it until the deadline. A
		// call that failed early (a broken connection) left that window
		// open: moving on at once, this node wrote the key elsewhere and
		// answered, the client wrote the key again, and then the held
		// request arrived in time, was stamped after that later write and
		// superseded it (the simulator's seed 1460). So wait out the whole
		// wait, as a timed-out call does: past it, the owner refuses the
		// request even with the clocks a half wait apart.
		n.stats.forwardsWaitedOut.Add(1)
		n.waitUntil(start.Add(wait))
	}
	return kv.PutResult{}, err, true
}

// waitUntil sleeps until t, or until the node closes.
func (n *Node) waitUntil(t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-n.stop:
	}
}

// servePut coordinates a write a peer forwarded here, unless it arrives
// after the deadline its forwarder set (see forward). It is never
// forwarded again.
func (n *Node) servePut(key []byte, req *kv.PutRequest, deadline int64) (kv.PutResult, error) {
	if deadline != 0 && n.eng.Now().UnixNano() > deadline {
		n.stats.lateForwards.Add(1)
		return kv.PutResult{}, msg.ErrLateForward
	}
	if req.W > n.opts.N {
		return kv.PutResult{}, kv.ErrBadQuorum
	}
	topo := n.topo.Topology()
	rt, err := n.plan(topo, key)
	if err != nil {
		return kv.PutResult{}, err
	}
	sn := slowNote{start: time.Now()}
	var res kv.PutResult
	if conditional(req) {
		res, err = n.coordinateConditional(topo, key, req, rt, &sn)
	} else {
		res, err = n.coordinate(topo, key, req, rt, &sn)
	}
	n.slow.note(n.log, "put (forwarded here)", key, &sn, err)
	return res, err
}

// coordinate applies a write locally (minting its dot), replicates the
// record, and answers after W acknowledgements. The round (writeRound)
// decides; a writeDriver carries out what it decides.
func (n *Node) coordinate(t *Topology, key []byte, req *kv.PutRequest, rt route, sn *slowNote) (kv.PutResult, error) {
	// The round's end runs after the answer, so it is a task of its own,
	// taken before anything is written: a closing node writes nothing.
	roundDone, ok := n.bg.add()
	if !ok {
		return kv.PutResult{}, kv.ErrClosed
	}
	handedOver := false // to the goroutine that ends the round
	defer func() {
		if !handedOver {
			roundDone() // an early return or a panic must not hang Close
		}
	}()
	n.stats.writes.Add(1)
	self, others, spares := coordinatorRoles(t.Self, rt.targets, rt.spares)
	w := n.newWriteDriver(t, key, req, rt)
	w.start = sn.start
	res, err := w.writeLocal(req, self)
	if err != nil {
		return kv.PutResult{}, err
	}
	w.got = append(w.got, reply{t: self, at: time.Since(w.start)})
	w.acks = make(chan reply, len(others)+len(spares))
	round, acts := newWriteRound(w.need, others, spares)
	w.do(acts)
	handedOver = true
	go func() {
		defer roundDone()
		w.finish(round)
	}()
	err = <-w.decided
	sn.detail = w.detail
	if err != nil {
		return kv.PutResult{}, err
	}
	return res, nil
}

// writeDriver carries out a writeRound's actions for one coordinated
// write. It outlives the caller's answer, so it holds copies of what it
// needs of the request: the caller may reuse its buffers and its
// PutRequest once answered.
type writeDriver struct {
	n          *Node
	t          *Topology
	key, rec   []byte
	sentDigest uint64 // of rec, to spot a replica holding more than it was sent
	owed       []string
	top        []string // the key's owners
	targets    []target
	asked      kv.Durability // the request's
	need       int           // acknowledgements that decide the write
	acks       chan reply
	decided    chan error // the outcome, as soon as it is known
	// For the slow log, owned by whoever drives the round: when the
	// request began, the replicas sent to and their answers, and, set
	// before decided when the answer came late, what they did.
	start   time.Time
	sent    []target
	got     []reply
	detail  string
	sentBuf [4]target // N=3 and a spare without allocating
	gotBuf  [4]reply
}

func (n *Node) newWriteDriver(t *Topology, key []byte, req *kv.PutRequest, rt route) *writeDriver {
	need := n.opts.W
	if req.W != 0 {
		need = req.W
	}
	w := &writeDriver{n: n, t: t, key: bytes.Clone(key), top: rt.top, targets: rt.targets, asked: req.Durability,
		need: need, decided: make(chan error, 1)}
	w.sent, w.got = w.sentBuf[:0], w.gotBuf[:0]
	return w
}

// durability is what the copy of a given rank (the coordinator's is 0)
// writes with.
func (w *writeDriver) durability(rank int) kv.Durability {
	if w.asked != kv.DurabilityDefault || rank >= w.n.opts.DurableReplicas {
		return w.asked
	}
	return kv.Sync
}

// writeLocal applies the write to this node's engine, which checks it and
// mints its dot.
//
// Every owner the write cannot reach directly is owed it: the ones
// fallbacks stand in for and the ones no healthy node is left to stand in
// for. Every replica that takes the write, this one first (in the same
// locked step as its write), keeps a hint for each, so the write reaches
// them even if the node that would otherwise have been the only one to
// know (a fallback, or this coordinator with a buffered copy) crashes
// right after acknowledging.
func (w *writeDriver) writeLocal(req *kv.PutRequest, self target) (kv.PutResult, error) {
	local := *req
	local.Durability = w.durability(0)
	w.owed = owed(w.t.Self, w.top, self, w.targets)
	res, rec, err := w.n.eng.PutRecord(w.key, &local, nil, w.owed...)
	if err != nil {
		return kv.PutResult{}, err
	}
	w.rec, w.sentDigest = rec, engine.Digest(rec)
	return res, nil
}

// finish feeds the round every replica's answer until it is done.
func (w *writeDriver) finish(round *writeRound) {
	for !round.done() {
		r := <-w.acks
		r.at = time.Since(w.start)
		w.got = append(w.got, r)
		if r.err == nil {
			w.do(round.ack(r.diverged))
		} else {
			w.do(round.fail(r.t))
		}
	}
}

func (w *writeDriver) do(acts []writeAction) {
	for _, a := range acts {
		switch a.kind {
		case actSend:
			w.send(a.to, a.rank)
		case actHint:
			w.hint(a)
		case actAnswer:
			w.answer(a)
		case actRepair:
			w.n.stats.writeRepairs.Add(1)
			w.n.repairKey(w.t, w.key, w.targets)
		}
	}
}

// send replicates the record to one replica, its answer going to acks.
func (w *writeDriver) send(to target, rank int) {
	w.sent = append(w.sent, to)
	m := &msg.MergeRequest{Key: w.key, Rec: w.rec, Durability: w.durability(rank), Owed: withOwner(w.owed, to.hintFor)}
	go func() {
		d, err := w.n.sendMergeDigest(context.Background(), w.t, to.id, m)
		w.acks <- reply{t: to, err: err, diverged: err == nil && d != 0 && d != w.sentDigest}
	}()
}

// hint keeps a hint on this node for an owner that missed the write.
func (w *writeDriver) hint(a writeAction) {
	d := kv.DurabilityDefault
	if a.durable {
		d = kv.Sync
	}
	if w.n.eng.AddHint(a.owner, w.key, d) != nil || a.late {
		w.n.stats.asyncFailures.Add(1)
	}
}

// answer reports the outcome to the caller.
func (w *writeDriver) answer(a writeAction) {
	if w.n.slow.slow(&slowNote{start: w.start}) {
		w.detail = fmt.Sprintf("W=%d: %s", w.need, replyLine(w.got, w.sent, false))
	}
	if a.outcome == quorum.Won {
		w.decided <- nil
		return
	}
	w.n.stats.unavailable.Add(1)
	w.decided <- fmt.Errorf("%w: write acknowledged by %d of %d required replicas (stored there; repair will spread it)",
		kv.ErrUnavailable, a.acked, w.need)
}

// owed lists the key's top-N owners (top) that the write's targets do
// not include: down, with a fallback standing in for them or none left
// to. self is the coordinator's own target (a coordinator outside the
// targets stands in for the owner it names), selfID its member ID.
func owed(selfID string, top []string, self target, targets []target) []string {
	var out []string
	for _, id := range top {
		reached := id == selfID
		for _, tg := range targets {
			if tg.id == id && tg.hintFor == "" {
				reached = true
				break
			}
		}
		if !reached {
			out = append(out, id)
		}
	}
	if self.hintFor != "" && !slices.Contains(out, self.hintFor) {
		out = append(out, self.hintFor)
	}
	return out
}
