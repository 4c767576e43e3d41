package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/ring"
)

// Reaping. A dead record (nothing readable left: expired, flushed, or
// tombstones older than the TTL) may be forgotten only when no node can
// bring back what it superseded. So a key is reaped by its first owner,
// and only when every node gossip knows (ring member or not: membership
// forgets only a node that left and holds nothing) is up and reachable
// and every one answers that it holds the very same record or, not
// being an owner, none, and no hint for the key: then no older version,
// and no undelivered one, exists anywhere. The owner then asks every
// member to reap the key if its record is still that one (a write that
// arrived meanwhile changes the record and keeps it), and reaps its own.
// A member whose reap request failed is asked again every round (it still
// holds the same dead record, so its reap still applies); should that be
// lost too (this node restarted), anti-entropy spreads the dead record
// back to the owners that reaped and a later round reaps it everywhere.
// A dead key some member refuses is repaired at once (repairDisputed), so
// that the next round can reap it. While any member is down nothing is
// reaped: dead records wait, they do not come back.
//
// Every "yes" rests on what the node's disk holds, not its memory: the
// reaper and each member that lets a key go sync their stores first. A
// drop, a hint's deletion or the merge that made a record the dead one is
// buffered, and a crash after the reap undid it: a node that had handed
// its copy off, answered that it held none, and lost the drop came back
// with the older value and handed it off again over nothing (the
// simulator's seed 959, 8 of 300 replays).

// maxPendingReaps bounds the reaps remembered for members that missed
// them; beyond it anti-entropy and a later round take over.
const maxPendingReaps = 10_000

// maxReapRepairs bounds the disputed dead keys one round repairs.
const maxReapRepairs = 64

// Reap runs one round: up to ReapBatch records of the partitions this
// node is first owner of are examined, and the dead ones every member
// agrees on are reaped. It returns how many keys it reaped here.
func (n *Node) Reap() int {
	t := n.topo.Topology()
	r := t.Ring
	if r == nil || r.Len() == 0 {
		return 0
	}
	n.stats.reapRounds.Add(1)
	members, ok := n.reapMembers(t)
	if !ok {
		n.stats.reapDeferred.Add(1)
		n.logs.reapDeferred.add(n.log, slog.LevelWarn, "reaping deferred: a node that may hold copies is down or unreachable; dead records wait", "", 1)
		return 0
	}
	n.retryReaps(t)
	nrep := min(n.opts.N, r.Len())
	granted := n.bgw.reap.Take(n.opts.ReapBatch, n.bgw.now())
	budget := granted
	defer func() {
		n.bgw.reap.Refund(budget)
		n.bgw.reap.Done(granted - budget) // records examined
	}()
	reaped := 0
	start := int(n.reapNext.Load())
	for i := 0; i < r.Partitions() && budget > 0 && !n.closed.Load(); i++ {
		p := (start + i) % r.Partitions()
		n.reapNext.Store(uint64(p + 1))
		owners, err := r.PreferenceList(p, nrep, nil)
		if err != nil || owners[0] != t.Self {
			continue
		}
		lo, hi := r.PartitionRange(p)
		var cands []msg.KeyDigest
		scanned := 0
		_ = n.eng.ScanHashRange(lo, hi, func(key, rec []byte) bool {
			scanned++
			if n.eng.Dead(rec) {
				cands = append(cands, msg.KeyDigest{Key: bytes.Clone(key), Digest: engine.Digest(rec)})
			}
			return scanned < budget
		})
		budget -= scanned
		if len(cands) == 0 {
			continue
		}
		if err := n.eng.Sync(); err != nil {
			break // its own dead records may not be on its disk: no reap
		}
		var disputed []msg.KeyDigest
		cands, disputed = n.agreed(t, members, cands)
		n.repairDisputed(t, disputed)
		if len(cands) == 0 {
			continue
		}
		n.traceKeys(cands, func(int) string { return fmt.Sprintf("reaping by %s: every one of %v agreed", t.Self, members) })
		for _, id := range members {
			ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
			_, err := n.peers.Reap(ctx, t.Addrs[id], cands)
			cancel()
			if err != nil {
				n.rememberReaps(id, cands)
			}
		}
		for _, kd := range cands {
			if ok, _ := n.eng.ReapIf(kd.Key, kd.Digest); ok {
				reaped++
			}
		}
	}
	n.stats.reaped.Add(uint64(reaped))
	return reaped
}

// rememberReaps notes that member id missed the reap of cands.
func (n *Node) rememberReaps(id string, cands []msg.KeyDigest) {
	n.pendingReaps.Lock()
	defer n.pendingReaps.Unlock()
	if n.pendingReaps.m == nil {
		n.pendingReaps.m = map[string][]msg.KeyDigest{}
	}
	for _, kd := range cands {
		if n.pendingReaps.count >= maxPendingReaps {
			return
		}
		n.pendingReaps.m[id] = append(n.pendingReaps.m[id], kd)
		n.pendingReaps.count++
	}
}

// retryReaps asks again the members that missed a reap.
func (n *Node) retryReaps(t *Topology) {
	n.pendingReaps.Lock()
	pending := n.pendingReaps.m
	n.pendingReaps.m, n.pendingReaps.count = nil, 0
	n.pendingReaps.Unlock()
	for id, kds := range pending {
		addr, ok := t.Addrs[id]
		if !ok {
			continue // gone from the cluster: nothing to ask
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
		_, err := n.peers.Reap(ctx, addr, kds)
		cancel()
		if err != nil {
			n.rememberReaps(id, kds)
		}
	}
}

// reapMembers lists every other node that must agree to a reap, and
// reports whether a reap may happen at all: every ring member and every
// other node gossip knows up and reachable, its internode address known.
func (n *Node) reapMembers(t *Topology) ([]string, bool) {
	for _, m := range t.Ring.Members() {
		if !n.healthy(t, m.ID) {
			return nil, false
		}
	}
	// Every other node gossip knows, in the ring or not, may hold a copy
	// (a node that left and is still handing off, one that took writes as
	// a fallback): one that is down is waited for, not skipped. Skipped,
	// it came back after the reap and its older version with it (seed 67).
	// Membership forgets only nodes out of the ring that said they hold
	// nothing.
	var out []string
	for id := range t.Alive {
		if id == t.Self {
			continue
		}
		if _, ok := t.Addrs[id]; !ok || !n.healthy(t, id) {
			return nil, false
		}
		out = append(out, id)
	}
	return out, true
}

// agreed splits the candidates into those every member lets be reaped
// and those some member refused (nil, nil when a member did not answer).
func (n *Node) agreed(t *Topology, members []string, cands []msg.KeyDigest) (ok, disputed []msg.KeyDigest) {
	keep := make([]bool, len(cands))
	for i := range keep {
		keep[i] = true
	}
	asked := append([]string{t.Self}, members...)
	for _, id := range members {
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
		lets, err := n.peers.Reapable(ctx, t.Addrs[id], asked, cands)
		cancel()
		if err != nil {
			n.traceKeys(cands, func(int) string { return fmt.Sprintf("reap check by %s: %s did not answer: %v", t.Self, id, err) })
			return nil, nil
		}
		for i, b := range lets {
			keep[i] = keep[i] && b
		}
		n.traceKeys(cands, func(i int) string {
			return fmt.Sprintf("reap check by %s (digest %x): %s says %v", t.Self, cands[i].Digest, id, lets[i])
		})
	}
	for i, kd := range cands {
		if keep[i] {
			ok = append(ok, kd)
		} else {
			disputed = append(disputed, kd)
		}
	}
	return ok, disputed
}

// traceKeys hands Options.TraceKey what line(i) says of cands[i].
func (n *Node) traceKeys(cands []msg.KeyDigest, line func(i int) string) {
	if n.opts.TraceKey == nil {
		return
	}
	for i, kd := range cands {
		n.opts.TraceKey(kd.Key, line(i))
	}
}

// repairDisputed repairs dead keys a member refused to reap: its copy
// differs (an older version, a record missed, or the same versions with
// causal history the others have forgotten) or it still holds a hint. No
// client reads a dead key, so no read repair ever would, and anti-entropy
// may be minutes away; once the replicas hold the same record a later
// round reaps it.
func (n *Node) repairDisputed(t *Topology, disputed []msg.KeyDigest) {
	for _, kd := range disputed[:min(len(disputed), maxReapRepairs)] {
		rt, err := n.plan(t, kd.Key)
		if err != nil {
			return
		}
		n.stats.reapRepairs.Add(1)
		n.repairKey(t, kd.Key, rt.targets)
	}
}

// reapable answers a reap check: per pair, whether this node lets the key
// be reaped (no hint for it, and the same record, or none and not an
// owner). It lets none be reaped if it knows of a node the asker does not
// ask (gossip's members, up or down, and the ring's): that node may hold
// a version no one was asked about. A node that has just restarted knows
// only part of the cluster until gossip reaches it; reaping by its view,
// it forgot a record while a node it had not heard of yet held a
// concurrent version, which came back (the simulator's seed 2279).
//
// That refusal is an error (msg.ErrUnasked), not a "no" per key: the keys
// are in no dispute, and the reaper must neither reap nor repair them.
func (n *Node) reapable(asked []string, kds []msg.KeyDigest) ([]bool, error) {
	t := n.topo.Topology()
	out := make([]bool, len(kds))
	if unasked := n.unasked(t, asked); unasked != "" {
		n.stats.reapUnasked.Add(1)
		n.traceKeys(kds, func(int) string { return "refuses the reap check: it was not asked of " + unasked })
		return nil, msg.ErrUnasked
	}
	for i, kd := range kds {
		hinted, err := n.eng.HasHints(kd.Key)
		if err != nil || hinted {
			continue
		}
		rec, found, err := n.eng.Record(kd.Key, nil)
		switch {
		case err != nil:
		case found && engine.Digest(rec) == kd.Digest:
			out[i] = true
		case !found && !n.owns(t, kd.Key):
			out[i] = true
		}
	}
	if slices.Contains(out, true) {
		// What was read above must survive a crash before it is promised
		// (see the top of this file).
		if err := n.eng.Sync(); err != nil {
			return make([]bool, len(kds)), nil
		}
	}
	return out, nil
}

// unasked is a node this node knows of that asked does not name ("" if
// none).
func (n *Node) unasked(t *Topology, asked []string) string {
	for id := range t.Alive {
		if !slices.Contains(asked, id) {
			return id
		}
	}
	if t.Ring != nil {
		for _, m := range t.Ring.Members() {
			if !slices.Contains(asked, m.ID) {
				return m.ID
			}
		}
	}
	return ""
}

// reap reaps the listed keys whose records are still the ones named, and
// returns how many it reaped.
func (n *Node) reap(kds []msg.KeyDigest) int {
	count := 0
	for _, kd := range kds {
		if ok, _ := n.eng.ReapIf(kd.Key, kd.Digest); ok {
			count++
		}
	}
	n.stats.reaped.Add(uint64(count))
	return count
}

// owns reports whether this node is one of key's top-N owners.
func (n *Node) owns(t *Topology, key []byte) bool {
	if t.Ring == nil || t.Ring.Len() == 0 {
		return false
	}
	p := t.Ring.Partition(ring.HashKey(key))
	top, err := t.Ring.PreferenceList(p, min(n.opts.N, t.Ring.Len()), nil)
	return err == nil && contains(top, t.Self)
}
