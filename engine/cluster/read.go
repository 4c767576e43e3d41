package cluster

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/quorum"
	"github.com/dynamo-kv/dynamo/ring"
)

// reply is one replica's answer.
type reply struct {
	t        target
	rec      []byte
	ok       bool // found (reads)
	diverged bool // the replica holds more than the write sent it (writes)
	err      error
	at       time.Duration // since the request began, when the coordinator took the reply (the slow log)
}

// Get implements kv.KV: read from R of the N healthy replicas (askR; opt.R,
// 1 to N, when the request names one), hedging with the others, merge by
// causality, repair stale replicas in the background.
func (n *Node) Get(key []byte, o *kv.Object, opt kv.ReadOptions) error {
	sn := slowNote{start: time.Now()}
	err := n.get(key, o, opt, &sn)
	n.foreground(sn.start)
	n.slow.note(n.log, "get", key, &sn, err)
	return err
}

func (n *Node) get(key []byte, o *kv.Object, opt kv.ReadOptions, sn *slowNote) error {
	o.Reset()
	r := opt.R
	if r == 0 {
		r = n.opts.R
	}
	if r < 0 || r > n.opts.N {
		return kv.ErrBadQuorum
	}
	if len(key) == 0 || len(key) > kv.MaxKeyLen {
		return kv.ErrKeyTooLong
	}
	t := n.topo.Topology()
	rt, err := n.plan(t, key)
	if err != nil {
		return err
	}
	targets, spares, left := n.readTargets(t, rt, r)
	n.stats.reads.Add(1)
	// Replica calls and read repair outlive the caller's buffer.
	key = bytes.Clone(key)
	if reachable := len(targets) + len(spares); reachable < r {
		n.stats.unavailable.Add(1)
		return fmt.Errorf("%w: read needs %d replicas, %d reachable", kv.ErrUnavailable, r, reachable)
	}
	ownReadable := n.readable(t, rt.hash)
	if r == 1 {
		// Only an owner's own copy answers alone: a fallback's holds just
		// what it stood in for (readRound).
		if i := indexOf(targets, t.Self); i >= 0 && targets[i].hintFor == "" {
			if done, err := n.readOwn(key, t, targets, i, o); done {
				if n.slow.slow(sn) {
					sn.detail = "R=1: this node's own copy"
				}
				return err
			}
			// This node's copy is unreadable: the others first.
			ownReadable = false
		}
	}
	behind := left
	targets, spares, left = askR(r, t.Self, ownReadable, targets, spares, left)
	replies := make(chan reply, len(targets)+len(spares))
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	round, acts := newReadRound(r, targets, spares, left)
	var hedge <-chan time.Time
	if left > 0 {
		// The replicas left out are asked if the targets have not made R
		// by the hedge delay (hedger), or by half the timeout when all of
		// them were left out as catching up (behind.go).
		wait := n.opts.Timeout / 2
		if left > behind {
			wait = n.hedge.after(sn.start, n.opts.Timeout)
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		hedge = timer.C
	}
	// This node's own read goes on a goroutine of its own unless the
	// record cache answers it, which cannot block. Read inline, between
	// asking the others and taking their replies, one slow local read (a
	// block-cache miss whose allocation sat 413 ms in calloc, in a
	// bench-join trace) held replies that had already made R, and the
	// hedge that would have asked a replica left out (askR). When the
	// others alone can make R it goes on a goroutine whatever it costs.
	// A cached own copy is read here, once: the lookup that says it
	// cannot block gives the record too.
	var own []byte
	ownCached := false
	if ownReadable && othersThan(targets, t.Self) < r {
		own, ownCached = n.eng.CachedRecord(key, nil)
	}
	var askedBuf [8]target
	asked := askedBuf[:0]
	explain := func() {
		if n.slow.slow(sn) {
			sn.detail = fmt.Sprintf("R=%d: %s", r, replyLine(round.got, asked, true))
		}
	}
	for {
		for _, a := range acts {
			switch {
			case a.fetch != nil && ownCached && a.fetch.id == t.Self:
				asked = append(asked, *a.fetch)
				replies <- reply{t: *a.fetch, rec: own, ok: true}
			case a.fetch != nil && a.fetch.id == t.Self:
				asked = append(asked, *a.fetch)
				go n.fetch(ctx, t, *a.fetch, key, replies)
			case a.fetch != nil:
				asked = append(asked, *a.fetch)
				n.fetch(ctx, t, *a.fetch, key, replies)
			case a.err != nil:
				explain()
				cancel()
				return a.err
			case a.outcome == quorum.Lost:
				explain()
				n.stats.unavailable.Add(1)
				go n.drain(cancel, replies, round.inFlight())
				return fmt.Errorf("%w: read got %d of %d replicas (last error: %v)", kv.ErrUnavailable, round.tracker.Acked(), r, lastErr(round.got))
			default:
				explain() // before the repair takes the round over
				if err := n.eng.FillObject(key, round.merged, o); err != nil {
					cancel()
					return err
				}
				if round.inFlight() == 0 {
					// Every replica asked has answered (the common case at
					// R=N, and with askR): nothing to wait for.
					cancel()
					n.repairNow(t, key, round.got, true)
					return nil
				}
				if !n.bg.goTask(func() { n.repair(key, t, round, replies, cancel) }) {
					cancel() // closing: no repair
				}
				return nil
			}
		}
		select {
		case rp := <-replies:
			rp.at = time.Since(sn.start)
			acts = round.reply(rp)
		case <-hedge:
			hedge = nil
			acts = round.hedge()
			n.stats.readHedges.Add(uint64(len(acts)))
		}
	}
}

// readOwn answers a read at R=1 from this node's own copy (targets[i]),
// checking the others by digest in the background. done is false when
// that copy is unreadable.
func (n *Node) readOwn(key []byte, t *Topology, targets []target, i int, o *kv.Object) (done bool, err error) {
	rec, a, err := n.ownRecord(t, key)
	if err != nil {
		return false, nil
	}
	if err := n.eng.FillObject(key, rec, o); err != nil {
		return true, err
	}
	others := append(append([]target(nil), targets[:i]...), targets[i+1:]...)
	if n.behind.any.Load() {
		// Replicas heard catching up would read through only to compare.
		p, now := t.Ring.Partition(ring.HashKey(key)), time.Now()
		others = slices.DeleteFunc(others, func(tg target) bool { return n.behind.is(tg.id, t.Ring, p, now) })
	}
	n.bg.goTask(func() { n.repairByDigest(key, t, targets[i], others, rec, a.Found) })
	return true, nil
}

// othersThan counts the targets that are not id.
func othersThan(ts []target, id string) int {
	c := 0
	for _, tg := range ts {
		if tg.id != id {
			c++
		}
	}
	return c
}

func lastErr(rs []reply) error {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].err != nil {
			return rs[i].err
		}
	}
	return nil
}

// drain consumes the replies still in flight so their goroutines end.
func (n *Node) drain(cancel context.CancelFunc, replies chan reply, inFlight int) {
	defer cancel()
	for range inFlight {
		<-replies
	}
}

// fetch asks one replica for key's record, answering on replies.
func (n *Node) fetch(ctx context.Context, t *Topology, tg target, key []byte, replies chan<- reply) {
	if tg.id == t.Self {
		if !n.readableKey(t, key) {
			// Reading through takes round trips: not ahead of the others.
			go func() {
				rec, a, err := n.ownRecord(t, key)
				replies <- reply{t: tg, rec: rec, ok: a.Found, err: err}
			}()
			return
		}
		rec, found, err := n.eng.Record(key, nil)
		replies <- reply{t: tg, rec: rec, ok: found, err: err}
		return
	}
	addr := t.Addrs[tg.id]
	go func() {
		start := time.Now()
		rec, a, err := n.peers.Fetch(ctx, addr, key, nil)
		if err == nil {
			n.hedge.record(time.Since(start))
		}
		n.noteBehind(t, tg.id, key, a.Behind)
		replies <- reply{t: tg, rec: rec, ok: a.Found, err: err}
	}()
}

// repair waits (bounded) for the replicas of a read that had not
// answered, and sends the merge of everything to every replica that
// answered with something older.
func (n *Node) repair(key []byte, t *Topology, round *readRound, replies chan reply, cancel context.CancelFunc) {
	defer cancel()
	deadline := time.NewTimer(n.opts.RepairWait)
	defer deadline.Stop()
wait:
	for inFlight := round.inFlight(); inFlight > 0; inFlight-- {
		select {
		case r := <-replies:
			round.reply(r)
		case <-deadline.C:
			break wait
		case <-n.stop:
			return
		}
	}
	n.repairNow(t, key, round.got, false)
}

// repairNow sends the merge of a read's replies to the replicas that
// answered with something older (repairPlan), on a background task of its
// own when async (the caller must not wait), else here.
func (n *Node) repairNow(t *Topology, key []byte, got []reply, async bool) {
	merged, stale, err := repairPlan(got)
	if err != nil || len(stale) == 0 {
		return
	}
	send := func() {
		n.stats.readRepairs.Add(uint64(len(stale)))
		n.sendRepairs(context.Background(), t, key, merged, stale)
	}
	if async {
		n.bg.goTask(send)
		return
	}
	send()
}

// repairByDigest is read repair for a read answered from this node's own
// copy (R=1): the other replicas send a digest of their record, and only
// those whose digest differs are asked for the record itself, merged with
// ours; the merge then goes to every copy that is not it, ours included.
// Replicas in sync, the common case, cost a lookup and a 16-byte answer
// instead of a whole record on the wire (Cassandra's digest reads).
func (n *Node) repairByDigest(key []byte, t *Topology, self target, others []target, local []byte, found bool) {
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	defer cancel()
	ours := digestIf(found, local)
	differ := n.differingDigests(ctx, t, key, others, found, ours)
	if len(differ) == 0 {
		return
	}
	merged := local
	if !found {
		merged = nil
	}
	for _, a := range differ {
		if !a.found {
			continue
		}
		theirs, answer, err := n.peers.Fetch(ctx, t.Addrs[a.tg.id], key, nil)
		if err != nil || !answer.Found {
			continue
		}
		if merged, err = engine.MergeRecords(nil, merged, theirs); err != nil {
			return
		}
	}
	if merged == nil {
		return
	}
	want := engine.Digest(merged)
	repair := func(tg target, stale bool) {
		if !stale {
			return
		}
		n.stats.readRepairs.Add(1)
		m := msg.MergeRequest{Key: key, Rec: merged, Durability: kv.DurabilityDefault, Owed: owedBy(tg)}
		if err := n.sendMerge(context.Background(), t, tg.id, &m); err != nil {
			n.stats.readRepairFailures.Add(1)
		}
	}
	repair(self, !found || ours != want)
	for _, a := range differ {
		repair(a.tg, !a.found || a.digest != want)
	}
}

// digestAnswer is one replica's answer to a digest request.
type digestAnswer struct {
	tg     target
	found  bool
	digest uint64
	err    error
}

// differingDigests asks the others for their record's digest and returns
// the answers that differ from this node's (found, ours).
func (n *Node) differingDigests(ctx context.Context, t *Topology, key []byte, others []target, found bool, ours uint64) []digestAnswer {
	answers := make(chan digestAnswer, len(others))
	for _, tg := range others {
		go func() {
			a := digestAnswer{tg: tg}
			var fa msg.FetchAnswer
			a.digest, fa, a.err = n.peers.Digest(ctx, t.Addrs[tg.id], key)
			a.found = fa.Found
			n.noteBehind(t, tg.id, key, fa.Behind)
			answers <- a
		}()
	}
	var differ []digestAnswer
	for range others {
		a := <-answers
		if a.err != nil {
			continue // unreachable: hints and anti-entropy will see to it
		}
		n.stats.readDigests.Add(1)
		if a.found == found && a.digest == ours {
			continue
		}
		n.stats.readDigestMismatches.Add(1)
		differ = append(differ, a)
	}
	return differ
}

// digestIf is the digest of a record, or 0 for none.
func digestIf(found bool, rec []byte) uint64 {
	if !found {
		return 0
	}
	return engine.Digest(rec)
}

// repairKey reads key from every target (this node included), merges
// what they hold and sends the merge to each that holds less: read
// repair, for a key a write found replicas disagreeing on.
func (n *Node) repairKey(t *Topology, key []byte, targets []target) {
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	defer cancel()
	replies := make(chan reply, len(targets))
	for _, tg := range targets {
		n.fetch(ctx, t, tg, key, replies)
	}
	got := make([]reply, 0, len(targets))
	for range targets {
		got = append(got, <-replies)
	}
	merged, stale, err := repairPlan(got)
	if err != nil {
		return
	}
	n.sendRepairs(ctx, t, key, merged, stale)
}

// sendRepairs sends the merged record of key to each stale replica, with
// the hint a fallback among them keeps for the owner it stands in for.
func (n *Node) sendRepairs(ctx context.Context, t *Topology, key, merged []byte, stale []target) {
	for _, tg := range stale {
		m := msg.MergeRequest{Key: key, Rec: merged, Durability: kv.DurabilityDefault, Owed: owedBy(tg)}
		if n.sendMerge(ctx, t, tg.id, &m) != nil {
			n.stats.readRepairFailures.Add(1)
		}
	}
}
