package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/quorum"
	"github.com/dynamo-kv/dynamo/ring"
)

// Node is one member of the cluster as clients and peers see it. It
// implements kv.KV (for the memcached front end) and wire.Handler (for
// peers, via Handler).
type Node struct {
	opts  Options
	eng   *engine.Engine
	topo  TopologySource
	peers peers // replication, reads, hints, anti-entropy
	fwd   peers // forwarded writes (see Options.Forward)

	stats counters
	cond  *condLocks // conditional writes decided here, one at a time per key

	aaeNext   atomic.Uint64 // next partition anti-entropy looks at
	aaeCredit float64       // exchanges owed by the pacing (owned by the loop)
	urgent    struct {      // partitions to compare first, and with whom
		sync.Mutex
		m map[int]urgentMark
	}
	handoffNext  atomic.Uint64 // partition the next handoff round starts at
	reapNext     atomic.Uint64 // partition the next reap round starts at
	pendingReaps struct {      // reaps members missed, by member, asked again each round
		sync.Mutex
		m     map[string][]msg.KeyDigest
		count int
	}
	hintKick chan struct{}            // a hint round now (a member came back)
	watched  atomic.Pointer[Topology] // the last topology the watcher saw

	stop     chan struct{}
	closed   atomic.Bool
	bg       tasks // hint delivery, read repairs, the ends of write rounds
	stopOnce sync.Once
}

var _ kv.KV = (*Node)(nil)

// New returns a node serving eng's data, routing by topo and reaching peers
// through tr. It starts hint delivery; Close stops it.
func New(eng *engine.Engine, topo TopologySource, tr Transport, opts Options) (*Node, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	n := &Node{opts: opts, eng: eng, topo: topo, peers: wirePeers{tr}, fwd: wirePeers{tr}, stop: make(chan struct{}), hintKick: make(chan struct{}, 1), cond: newCondLocks()}
	n.urgent.m = map[int]urgentMark{}
	if opts.Forward != nil {
		n.fwd = wirePeers{opts.Forward}
	}
	n.everyOrKick(opts.HintInterval, n.hintKick, func() { n.DeliverHints() })
	n.every(opts.HandoffInterval, func() { n.HandOff() })
	n.every(opts.AntiEntropyInterval, n.aaeTick)
	n.every(opts.ReapInterval, func() { n.Reap() })
	n.watch()
	return n, nil
}

// Close stops background work and waits for it. The engine stays open.
func (n *Node) Close() {
	n.stopOnce.Do(func() {
		n.closed.Store(true)
		close(n.stop)
	})
	n.bg.closeAndWait()
}

// target is one replica a request goes to; hintFor names the owner a
// fallback stands in for.
type target struct {
	id      string
	hintFor string
}

// plan picks a key's replicas: the healthy members of its top N, then, for
// each unhealthy one, the next healthy member of the extended list with a
// hint; the remaining healthy members are spares for later failures.
func (n *Node) plan(t *Topology, key []byte) (top []string, targets, spares []target, err error) {
	r := t.Ring
	if r == nil || r.Len() == 0 {
		return nil, nil, nil, fmt.Errorf("%w: this node has no ring yet", kv.ErrUnavailable)
	}
	p := r.Partition(ring.HashKey(key))
	// The first 2N members are precomputed and cheap; most requests find
	// their N healthy nodes there.
	count := min(r.Len(), 2*n.opts.N)
	list, err := r.PreferenceList(p, count, make([]string, 0, count))
	if err != nil {
		return nil, nil, nil, err
	}
	if count < r.Len() && n.healthyCount(t, list) < n.opts.N {
		// Many nodes down: walk the whole extended list (O(Q)), so a
		// request fails only when the whole cluster cannot serve it.
		if list, err = r.ExtendedList(p, nil); err != nil {
			return nil, nil, nil, err
		}
	}
	nTop := min(n.opts.N, len(list))
	top = list[:nTop]
	var down []string
	for i, id := range list {
		switch {
		case !n.healthy(t, id):
			if i < nTop {
				down = append(down, id)
			}
		case i < nTop:
			targets = append(targets, target{id: id})
		case len(down) > 0:
			targets = append(targets, target{id: id, hintFor: down[0]})
			down = down[1:]
		default:
			spares = append(spares, target{id: id})
		}
	}
	return top, targets, spares, nil
}

func (n *Node) healthyCount(t *Topology, ids []string) int {
	c := 0
	for _, id := range ids {
		if n.healthy(t, id) {
			c++
		}
	}
	return c
}

// healthy: gossip says alive and the transport has no fresh failure.
func (n *Node) healthy(t *Topology, id string) bool {
	if id == t.Self {
		return true
	}
	addr, ok := t.Addrs[id]
	return ok && t.Alive[id] && n.peers.Healthy(addr)
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// reply is one replica's answer.
type reply struct {
	t        target
	rec      []byte
	ok       bool // found (reads)
	diverged bool // the replica holds more than the write sent it (writes)
	err      error
}

// Get implements kv.KV: read from the N healthy replicas, answer after
// R (opt.R, 1 to N, when the request names one), merge by causality,
// repair stale replicas in the background.
func (n *Node) Get(key []byte, o *kv.Object, opt kv.ReadOptions) error {
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
	_, targets, spares, err := n.plan(t, key)
	if err != nil {
		return err
	}
	n.stats.reads.Add(1)
	// Replica calls and read repair outlive the caller's buffer.
	key = bytes.Clone(key)
	if reachable := len(targets) + len(spares); reachable < r {
		n.stats.unavailable.Add(1)
		return fmt.Errorf("%w: read needs %d replicas, %d reachable", kv.ErrUnavailable, r, reachable)
	}
	if r == 1 {
		if i := indexOf(targets, t.Self); i >= 0 {
			rec, found, err := n.eng.Record(key, nil)
			if err == nil {
				if err := n.eng.FillObject(key, rec, o); err != nil {
					return err
				}
				others := append(append([]target(nil), targets[:i]...), targets[i+1:]...)
				n.bg.goTask(func() { n.repairByDigest(key, t, targets[i], others, rec, found) })
				return nil
			}
			// This node's copy is unreadable: read the others in full.
		}
	}
	replies := make(chan reply, len(targets)+len(spares))
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	round, acts := newReadRound(r, targets, spares)
	for {
		for _, a := range acts {
			switch {
			case a.fetch != nil:
				n.fetch(ctx, t, *a.fetch, key, replies)
			case a.err != nil:
				cancel()
				return a.err
			case a.outcome == quorum.Lost:
				n.stats.unavailable.Add(1)
				go n.drain(cancel, replies, round.inFlight())
				return fmt.Errorf("%w: read got %d of %d replicas (last error: %v)", kv.ErrUnavailable, round.tracker.Acked(), r, lastErr(round.got))
			default:
				if err := n.eng.FillObject(key, round.merged, o); err != nil {
					cancel()
					return err
				}
				if !n.bg.goTask(func() { n.repair(key, t, round, replies, cancel) }) {
					cancel() // closing: no repair
				}
				return nil
			}
		}
		acts = round.reply(<-replies)
	}
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
		rec, found, err := n.eng.Record(key, nil)
		replies <- reply{t: tg, rec: rec, ok: found, err: err}
		return
	}
	addr := t.Addrs[tg.id]
	go func() {
		rec, found, err := n.peers.Fetch(ctx, addr, key, nil)
		replies <- reply{t: tg, rec: rec, ok: found, err: err}
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
	merged, stale, err := repairPlan(round.got)
	if err != nil {
		return
	}
	n.stats.readRepairs.Add(uint64(len(stale)))
	n.sendRepairs(context.Background(), t, key, merged, stale)
}

// indexOf is the position of the target with the given id, or -1.
func indexOf(targets []target, id string) int {
	for i, tg := range targets {
		if tg.id == id {
			return i
		}
	}
	return -1
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
	type answer struct {
		tg     target
		found  bool
		digest uint64
		err    error
	}
	answers := make(chan answer, len(others))
	for _, tg := range others {
		go func() {
			a := answer{tg: tg}
			a.digest, a.found, a.err = n.peers.Digest(ctx, t.Addrs[tg.id], key)
			answers <- a
		}()
	}
	ours := digestIf(found, local)
	var differ []answer
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
		theirs, theirsFound, err := n.peers.Fetch(ctx, t.Addrs[a.tg.id], key, nil)
		if err != nil || !theirsFound {
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

// sendMerge delivers a record to one replica (itself included).
func (n *Node) sendMerge(ctx context.Context, t *Topology, id string, m *msg.MergeRequest) error {
	_, err := n.sendMergeDigest(ctx, t, id, m)
	return err
}

// sendMergeDigest is sendMerge returning the digest of the record the
// replica holds afterwards (0 from a replica that did not say).
func (n *Node) sendMergeDigest(ctx context.Context, t *Topology, id string, m *msg.MergeRequest) (uint64, error) {
	if id == t.Self {
		return n.applyMerge(m)
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	return n.peers.Merge(ctx, t.Addrs[id], m)
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

// owedBy is the hint a fallback target keeps: the owner it stands in for.
func owedBy(tg target) []string {
	if tg.hintFor == "" {
		return nil
	}
	return []string{tg.hintFor}
}

// applyMerge is a replica taking a record, and a hint for each owner it
// is owed to (itself excepted). It returns the digest of the record it
// holds afterwards.
func (n *Node) applyMerge(m *msg.MergeRequest) (uint64, error) {
	self := n.topo.Topology().Self
	owed := m.Owed
	if slices.Contains(owed, self) {
		owed = slices.DeleteFunc(slices.Clone(owed), func(o string) bool { return o == self })
	}
	_, digest, err := n.eng.Merge(m.Key, m.Rec, m.Durability, owed...)
	return digest, err
}

// Put implements kv.KV. A node in the key's top N coordinates; any
// other node forwards to the first healthy one that is.
func (n *Node) Put(key []byte, req *kv.PutRequest) (kv.PutResult, error) {
	if len(key) == 0 || len(key) > kv.MaxKeyLen {
		return kv.PutResult{}, kv.ErrKeyTooLong
	}
	if req.W < 0 || req.W > n.opts.N {
		return kv.PutResult{}, kv.ErrBadQuorum
	}
	t := n.topo.Topology()
	top, targets, spares, err := n.plan(t, key)
	if err != nil {
		return kv.PutResult{}, err
	}
	if conditional(req) {
		return n.putConditional(t, key, req, targets, spares)
	}
	if contains(top, t.Self) {
		return n.coordinate(t, key, req, targets, spares)
	}
	// The owner may need its own write, a replica timeout and one per
	// spare before it answers; wait that long, not less, so a slow answer
	// is not mistaken for a lost request.
	wait := time.Duration(2+n.opts.N) * n.opts.Timeout
	for _, tg := range targets {
		if tg.hintFor != "" {
			break // no healthy owner left to forward to
		}
		if res, err, next := n.forward(t, tg, key, req, wait); !next {
			return res, err
		}
		// The request never reached that owner: try the next one.
	}
	// No owner reachable: this node takes the write as a fallback.
	return n.coordinate(t, key, req, targets, spares)
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
	}
	return kv.PutResult{}, err, true
}

// coordinate applies a write locally (minting its dot), replicates the
// record, and answers after W acknowledgements.
func (n *Node) coordinate(t *Topology, key []byte, req *kv.PutRequest, targets, spares []target) (kv.PutResult, error) {
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
	// Replication to the slower replicas outlives the caller's buffer.
	key = bytes.Clone(key)
	self := target{id: t.Self}
	others := make([]target, 0, len(targets))
	for _, tg := range targets {
		if tg.id == t.Self {
			self = tg
		} else {
			others = append(others, tg)
		}
	}
	if !contains(targetIDs(targets), t.Self) && len(targets) > 0 {
		// A coordinator outside the targets (no owner was reachable) stands
		// in for the first owner it displaces, and is no spare.
		self.hintFor = firstOwner(targets)
		kept := spares[:0:0]
		for _, sp := range spares {
			if sp.id != t.Self {
				kept = append(kept, sp)
			}
		}
		spares = kept
	}
	// Background replication runs after the caller has returned and may
	// reuse req, so it reads only this copy.
	asked := req.Durability
	durability := func(i int) kv.Durability {
		if asked != kv.DurabilityDefault || i >= n.opts.DurableReplicas {
			return asked
		}
		return kv.Sync
	}
	local := *req
	local.Durability = durability(0)
	// Every owner the write cannot reach directly is owed it: the ones
	// fallbacks stand in for and the ones no healthy node is left to stand
	// in for. Every replica that takes the write, this one first (in the
	// same locked step as its write), keeps a hint for each, so the write
	// reaches them even if the node that would otherwise have been the
	// only one to know (a fallback, or this coordinator with a buffered
	// copy) crashes right after acknowledging.
	owed := n.owed(t, key, self, targets)
	res, rec, err := n.eng.PutRecord(key, &local, nil, owed...)
	if err != nil {
		return kv.PutResult{}, err
	}
	need := n.opts.W
	if req.W != 0 {
		need = req.W
	}
	sentDigest := engine.Digest(rec)
	acks := make(chan reply, len(others)+len(spares))
	round, acts := newWriteRound(need, others, spares)
	// The outcome is reported as soon as it is known; the rest of the
	// round goes on in the background.
	decided := make(chan error, 1)
	act := func(a writeAction) {
		switch a.kind {
		case actSend:
			m := &msg.MergeRequest{Key: key, Rec: rec, Durability: durability(a.rank), Owed: withOwner(owed, a.to.hintFor)}
			go func() {
				d, err := n.sendMergeDigest(context.Background(), t, a.to.id, m)
				acks <- reply{t: a.to, err: err, diverged: err == nil && d != 0 && d != sentDigest}
			}()
		case actHint:
			d := kv.DurabilityDefault
			if a.durable {
				d = kv.Sync
			}
			if n.eng.AddHint(a.owner, key, d) != nil || a.late {
				n.stats.asyncFailures.Add(1)
			}
		case actAnswer:
			if a.outcome == quorum.Won {
				decided <- nil
				return
			}
			n.stats.unavailable.Add(1)
			decided <- fmt.Errorf("%w: write acknowledged by %d of %d required replicas (stored there; repair will spread it)",
				kv.ErrUnavailable, a.acked, need)
		case actRepair:
			n.stats.writeRepairs.Add(1)
			n.repairKey(t, key, targets)
		}
	}
	for _, a := range acts {
		act(a)
	}
	handedOver = true
	go func() {
		defer roundDone()
		for !round.done() {
			var next []writeAction
			if r := <-acks; r.err == nil {
				next = round.ack(r.diverged)
			} else {
				next = round.fail(r.t)
			}
			for _, a := range next {
				act(a)
			}
		}
	}()
	if err := <-decided; err != nil {
		return kv.PutResult{}, err
	}
	return res, nil
}

func targetIDs(ts []target) []string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.id
	}
	return ids
}

// firstOwner is the owner the first fallback target stands in for, or the
// first target.
func firstOwner(ts []target) string {
	for _, t := range ts {
		if t.hintFor != "" {
			return t.hintFor
		}
	}
	return ts[0].id
}

// FlushAll implements kv.KV: every alive member flushes.
func (n *Node) FlushAll(delay time.Duration) error {
	t := n.topo.Topology()
	errs := []error{n.eng.FlushAll(delay)}
	for id, addr := range t.Addrs {
		if id == t.Self || !t.Alive[id] {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
		err := n.peers.FlushAll(ctx, addr, delay)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// owed lists the key's top-N owners that the write's targets do not
// include: down, with a fallback standing in for them or none left to.
// self is the coordinator's own target (a coordinator outside the
// targets stands in for the owner it names).
func (n *Node) owed(t *Topology, key []byte, self target, targets []target) []string {
	p := t.Ring.Partition(ring.HashKey(key))
	top, err := t.Ring.PreferenceList(p, min(n.opts.N, t.Ring.Len()), nil)
	if err != nil {
		return nil
	}
	var out []string
	for _, id := range top {
		reached := id == t.Self
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

// withOwner is owed plus owner (a fallback's own charge), without
// repeating it.
func withOwner(owed []string, owner string) []string {
	if owner == "" || slices.Contains(owed, owner) {
		return owed
	}
	return append(slices.Clone(owed), owner)
}

// every runs round each interval on a background goroutine until Close;
// a negative interval never runs it. Rounds bound their own work.
func (n *Node) every(interval time.Duration, round func()) {
	n.everyOrKick(interval, nil, round)
}

// everyOrKick is every, also running round whenever kick receives.
func (n *Node) everyOrKick(interval time.Duration, kick chan struct{}, round func()) {
	if interval <= 0 {
		return
	}
	n.bg.goTask(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-n.stop:
				return
			case <-tick.C:
				round()
			case <-kick:
				round()
			}
		}
	})
}

// digestIf is the digest of a record, or 0 for none.
func digestIf(found bool, rec []byte) uint64 {
	if !found {
		return 0
	}
	return engine.Digest(rec)
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
	_, targets, spares, err := n.plan(topo, key)
	if err != nil {
		return kv.PutResult{}, err
	}
	if conditional(req) {
		return n.coordinateConditional(topo, key, req, targets, spares)
	}
	return n.coordinate(topo, key, req, targets, spares)
}
