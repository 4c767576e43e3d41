package cluster

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Conditional writes (add, replace, cas, and the read-modify-writes behind
// incr, decr, append, prepend, touch and their meta forms) are decided by
// one node per key, the key's first healthy owner, and checked there
// against every replica that answers, at least R: it merges what they
// hold into its own copy, and only then applies the write, with every other
// conditional write to the key waiting its turn. Through any node, two
// adds of a new key store once, a stale cas answers EXISTS, and two incrs
// never hand out the same number, whenever the nodes agree on who that
// first owner is (every healthy cluster). During a partition each side
// may pick its own first owner; incr and decr then still lose nothing (a
// counter's changes merge, engine/counter), while add, replace and cas
// are checked against one side only: Dynamo's trade, documented in
// docs/architecture.md.

// conditional reports whether a write depends on the key's current state.
func conditional(req *kv.PutRequest) bool {
	return req.Cond != kv.CondNone || req.Touch || req.Arith != nil
}

// condLocks serialize conditional writes per key on their deciding node.
// Each is a channel of one slot rather than a sync.Mutex: its holder waits
// on replicas for as long as a round takes, and a goroutine blocked on a
// channel is one the simulator's clock (testing/synctest) knows is idle,
// where one blocked on a mutex is not.
type condLocks [1024]chan struct{}

func newCondLocks() *condLocks {
	var l condLocks
	for i := range l {
		l[i] = make(chan struct{}, 1)
	}
	return &l
}

// of is the lock of a key by its hash (ring.HashKey).
func (l *condLocks) of(hash uint64) chan struct{} {
	return l[hash%uint64(len(l))]
}

// putConditional sends a conditional write to the key's first owner that
// answers, or decides it here when that is this node.
//
// Two nodes must not pick two deciders for a key on a healthy cluster,
// and health is each node's own view: the transport's suspicions can
// outlive their cause (a call sent into a partition times out after it
// healed), and gossip can declare a node dead seconds after a partition
// healed (a suspicion timer started during it fires on one node, whose
// "dead" the others believe until the node refutes it). A node that
// skipped a first owner it merely thought down sent the key's conditional
// writes to the second while other nodes sent theirs to the first (the
// simulator's seed 1952: two adds of one key both stored, incr numbers
// handed out twice). So an owner this node thinks down is pinged before
// it is skipped (verify); only one that does not answer is passed over.
func (n *Node) putConditional(t *Topology, key []byte, req *kv.PutRequest, rt route, sn *slowNote) (kv.PutResult, error) {
	wait := time.Duration(3+n.opts.N) * n.opts.Timeout
	for _, id := range rt.top {
		if id == t.Self {
			return n.coordinateConditional(t, key, req, rt, sn)
		}
		if !(n.healthy(t, id) && n.fwd.Healthy(t.Addrs[id])) && !n.verify(t, id) {
			continue
		}
		if res, err, next := n.forward(t, target{id: id}, key, req, wait); !next {
			if n.slow.slow(sn) {
				sn.detail = fmt.Sprintf("conditional, forwarded to owner %s; answered after %v", id, time.Since(sn.start).Round(100*time.Microsecond))
			}
			return res, err
		}
		// Never reached that owner: the next one decides.
	}
	n.stats.unavailable.Add(1)
	return kv.PutResult{}, fmt.Errorf("%w: a conditional write needs a reachable owner of the key, none is", kv.ErrUnavailable)
}

// coordinateConditional decides a conditional write on this node: with
// the key's other conditional writes held off, it brings its own copy up
// to date with R replicas (itself included), then coordinates the write
// as any other, answering after W acknowledgements.
func (n *Node) coordinateConditional(t *Topology, key []byte, req *kv.PutRequest, rt route, sn *slowNote) (kv.PutResult, error) {
	key = bytes.Clone(key) // the catch-up's fetches outlive the caller's buffer
	lock := n.cond.of(rt.hash)
	lock <- struct{}{}
	defer func() { <-lock }()
	n.stats.conditional.Add(1)
	// Its own copy counts only if it is caught up, or read through.
	_, _, err := n.ownRecord(t, key)
	if err := n.catchUp(t, key, rt, err == nil); err != nil {
		return kv.PutResult{}, err
	}
	return n.coordinate(t, key, req, rt, sn)
}

// catchUp merges the records of the key's replicas into the local copy:
// every other target of the write (the owners, and fallbacks standing in
// for owners down) that answers within the replica timeout, and at least
// R replicas (this one counted), or it fails. Asking only R-1 others let
// the decider miss acknowledged writes whenever its own copy was not
// among their acknowledgers: at R=1 a node that had just joined the ring
// decided from an empty copy, and an owner back from down before its
// hints arrived from a stale one (TestJoinerDoesNotDecideFromAnEmptyCopy,
// TestOwnerBackFromDownDoesNotDecideStale). A spare is asked only in
// place of a target that failed while fewer than R answered: a spare
// holds no copy, and its quick "not found" counted instead of an owner's
// record let a cas pass against a copy that missed an acknowledged set.
//
// A decider still catching up the key's partition (ready false) holds no
// copy worth counting: it needs R others.
func (n *Node) catchUp(t *Topology, key []byte, rt route, ready bool) error {
	targets, spares := rt.targets, rt.spares
	need := n.opts.R - 1
	if !ready {
		need = n.opts.R
	}
	var others []target
	for _, tg := range targets {
		if tg.id != t.Self {
			others = append(others, tg)
		}
	}
	var extra []target
	for _, sp := range spares {
		if sp.id != t.Self {
			extra = append(extra, sp)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	replies := make(chan reply, len(others)+len(extra))
	for _, tg := range others {
		n.fetch(ctx, t, tg, key, replies)
	}
	inFlight := len(others)
	defer func() { go n.drain(cancel, replies, inFlight) }()
	got := 0
	var lastErr error
	for inFlight > 0 {
		r := <-replies
		inFlight--
		if r.err != nil {
			lastErr = r.err
			if got+inFlight < need && len(extra) > 0 {
				n.fetch(ctx, t, extra[0], key, replies)
				extra = extra[1:]
				inFlight++
			}
			continue
		}
		got++
		if r.ok {
			if _, err := n.eng.MergeRecord(key, r.rec, kv.DurabilityDefault); err != nil {
				return err
			}
		}
	}
	if got < need {
		n.stats.unavailable.Add(1)
		return fmt.Errorf("%w: a conditional write is checked against %d replicas, %d answered (last error: %v)",
			kv.ErrUnavailable, n.opts.R, got+n.opts.R-need, lastErr)
	}
	return nil
}

// verifyBackoff is how long a failed verification of a peer stands: a
// peer really down costs a conditional write one ping timeout per
// backoff, not one each.
const verifyBackoff = time.Second

// verify reports whether peer id answers now on both transports
// (peers.Verify), at most one ping per verifyBackoff after one failed.
func (n *Node) verify(t *Topology, id string) bool {
	addr, ok := t.Addrs[id]
	if !ok {
		return false
	}
	if last, ok := n.verifyFailed.Load(addr); ok && time.Since(last.(time.Time)) < verifyBackoff {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout/2)
	defer cancel()
	// Both transports: the forward goes over its own connections, whose
	// suspicion would fail it at once just the same.
	if n.peers.Verify(ctx, addr) && n.fwd.Verify(ctx, addr) {
		n.verifyFailed.Delete(addr)
		n.stats.verified.Add(1)
		return true
	}
	n.verifyFailed.Store(addr, time.Now())
	return false
}
