package cluster

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"maps"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/merkle"
)

// Anti-entropy (Dynamo §4.7): replicas that missed writes nobody reads
// again are caught up by comparing hash trees. An exchange takes one
// partition this node replicates, takes the merkle tree of its records
// there (kept by the engine on writes, built from a scan of one contiguous
// store range only the first time), asks another replica for
// the leaves of its tree, and for every segment that differs exchanges the
// records both ways; merges are idempotent and causal, so nothing is lost
// whichever side was behind.
//
// Pacing: every AntiEntropyInterval the loop runs as many exchanges as
// keep a full pass over this node's partitions within AntiEntropyCycle,
// so a copy that only one replica holds is spread within one cycle (one
// partition per second, as before, took 17 minutes for 1,024
// partitions), as far as the admission controller's aae grant allows:
// each exchange is charged the records it reads for its tree and takes
// from the peer (a kept tree: one, for the round trip), and under load a
// pass takes up to twenty times longer. Unpaced and before trees were
// kept, at 1,000,000 keys a pass read about 6,400 records a second on
// each node whatever its clients' latency.
// Partitions shared with a member that just came back, and every
// partition after this node restarted from an unclean shutdown (it may
// have lost buffered writes nobody hinted), are urgent: they go first, up
// to urgentPerTick per tick.

// urgentPerTick bounds the urgent exchanges per AntiEntropyInterval.
const urgentPerTick = 20

// aaeTick is one round of the anti-entropy loop.
func (n *Node) aaeTick() {
	t := n.topo.Topology()
	r := t.Ring
	if r == nil || r.Len() < 2 {
		return
	}
	granted := n.bgw.aae.Take(urgentPerTick, n.bgw.now())
	done := 0
	for ; done < granted; done++ {
		p, peer, ok := n.nextUrgent(t)
		if !ok {
			break
		}
		n.exchange(t, p, peer)
	}
	n.bgw.aae.Refund(granted - done)
	n.bgw.aae.Done(done)
	// The regular pass: what keeps it within AntiEntropyCycle, as far as
	// the aae grant (records read and taken) allows; what it falls behind
	// it makes up later, up to one whole pass owed.
	replicated := float64(len(r.Replicated(t.Self)))
	n.aaeCredit = min(n.aaeCredit+replicated*float64(n.opts.AntiEntropyInterval)/float64(n.opts.AntiEntropyCycle), max(replicated, 1))
	for ; n.aaeCredit >= 1 && !n.closed.Load(); n.aaeCredit-- {
		if !n.bgw.aaeScan.Ready(n.bgw.now()) {
			n.stats.aaeDeferred.Add(1)
			break
		}
		n.AntiEntropy()
	}
}

// urgentWith marks the partitions this node shares with id as urgent.
func (n *Node) urgentWith(t *Topology, id string) {
	r := t.Ring
	if r == nil || n.opts.AntiEntropyInterval < 0 {
		return
	}
	nrep := min(n.opts.N, r.Len())
	until := time.Now().Add(urgentPatience)
	n.urgent.Lock()
	defer n.urgent.Unlock()
	for p := range r.Partitions() {
		owners, err := r.PreferenceList(p, nrep, nil)
		if err == nil && contains(owners, t.Self) && contains(owners, id) {
			n.urgent.m[p] = urgentMark{peer: id, until: until}
		}
	}
}

// urgentPatience is how long an urgent exchange waits for the member it
// names to be reachable (gossip can report a node back before its
// listener answers); after that any replica will do.
const urgentPatience = 30 * time.Second

// urgentMark is an urgent partition: the member to compare it with ("":
// any healthy replica) and until when to wait for that one.
type urgentMark struct {
	peer  string
	until time.Time
}

// urgentAll marks every partition this node replicates as urgent, with
// any healthy peer.
func (n *Node) urgentAll(t *Topology) {
	if t.Ring == nil || n.opts.AntiEntropyInterval < 0 {
		return
	}
	n.urgent.Lock()
	defer n.urgent.Unlock()
	for _, p := range t.Ring.Replicated(t.Self) {
		n.urgent.m[p] = urgentMark{}
	}
}

// urgentPending is how many partitions wait for an urgent exchange.
func (n *Node) urgentPending() int {
	n.urgent.Lock()
	defer n.urgent.Unlock()
	return len(n.urgent.m)
}

// nextUrgent takes one urgent partition and the peer to compare it with.
func (n *Node) nextUrgent(t *Topology) (int, string, bool) {
	n.urgent.Lock()
	defer n.urgent.Unlock()
	now := time.Now()
	for p, mark := range n.urgent.m {
		switch {
		case mark.peer != "" && n.healthy(t, mark.peer):
			delete(n.urgent.m, p)
			return p, mark.peer, true
		case mark.peer != "" && now.Before(mark.until):
			continue // not reachable yet: keep it for that member
		}
		delete(n.urgent.m, p)
		if peer := n.aaePeer(t, p); peer != "" {
			return p, peer, true
		}
	}
	return 0, "", false
}

// aaePeer picks a healthy replica of p other than this node, rotating.
func (n *Node) aaePeer(t *Topology, p int) string {
	owners, err := t.Ring.PreferenceList(p, min(n.opts.N, t.Ring.Len()), nil)
	if err != nil || !contains(owners, t.Self) {
		return ""
	}
	var peers []string
	for _, id := range owners {
		if id != t.Self && n.healthy(t, id) {
			peers = append(peers, id)
		}
	}
	if len(peers) == 0 {
		return ""
	}
	return peers[int(n.stats.aaeRounds.Load())%len(peers)]
}

// AntiEntropy compares the next partition this node replicates with one
// other healthy replica and repairs the differences. It returns how many
// keys changed on either side.
func (n *Node) AntiEntropy() int {
	t := n.topo.Topology()
	r := t.Ring
	if r == nil || r.Len() < 2 {
		return 0
	}
	for range r.Partitions() {
		p := int(n.aaeNext.Add(1)-1) % r.Partitions()
		if peer := n.aaePeer(t, p); peer != "" {
			return n.exchange(t, p, peer)
		}
	}
	return 0
}

// exchange reconciles partition p with one peer.
func (n *Node) exchange(t *Topology, p int, peer string) int {
	if !n.partitionReadable(t, p) {
		return 0 // catching it up: the pull brings what an exchange would
	}
	n.stats.aaeRounds.Add(1)
	local, scanned, err := n.partitionTree(t, p)
	// A kept tree reads nothing; the leaves' round trip still counts as
	// one record's worth, so a loaded node's pass still yields.
	n.bgw.aaeScan.Charge(max(1, scanned))
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*n.opts.Timeout)
	defer cancel()
	addr := t.Addrs[peer]
	leaves, err := n.peers.Tree(ctx, addr, p, msg.AntiEntropy, nil)
	if err != nil {
		if refusedWith(err, msg.ErrNotReady) {
			n.stats.aaeNotReady.Add(1) // the peer is catching it up
		}
		return 0
	}
	diff, err := local.DiffLeaves(leaves)
	if err != nil {
		return 0
	}
	repaired := 0
	for _, seg := range diff {
		n.stats.aaeSegments.Add(1)
		lo, hi := local.SegmentRange(seg)
		theirs := map[string][]byte{}
		err := n.segment(addr, lo, hi, msg.AntiEntropy, func(part map[string][]byte) error {
			maps.Copy(theirs, part)
			n.bgw.aaeScan.Charge(len(part))
			return nil
		})
		if err != nil {
			return repaired
		}
		// Take what the peer has, then send back whatever we now hold
		// that differs from its copy.
		for key, rec := range theirs {
			if changed, err := n.eng.MergeRecord([]byte(key), rec, 0); err == nil && changed {
				repaired++
			}
		}
		var push []heldRecord
		n.eng.ScanHashRange(lo, hi, func(key, rec []byte) bool {
			if string(theirs[string(key)]) != string(rec) {
				push = append(push, heldCopy(key, rec))
			}
			return true
		})
		self := n.topo.Topology().Self
		for _, h := range push {
			m := msg.MergeRequest{Key: h.key, Rec: h.rec, From: self}
			if _, err := n.peers.Merge(ctx, addr, &m); err == nil {
				repaired++
			}
		}
	}
	n.stats.aaeRepaired.Add(uint64(repaired))
	n.logs.aaeRepaired.add(n.log, slog.LevelInfo, "anti-entropy repaired keys, by peer", peer, uint64(repaired))
	return repaired
}

var errNoRing = errors.New("cluster: no ring")

// partitionTree returns the merkle tree of this node's records in p, and
// says how many records it read: none when the engine kept the tree up to
// date since it last built it (engine.PartitionTree).
func (n *Node) partitionTree(t *Topology, p int) (*merkle.Tree, int, error) {
	if t.Ring == nil || p < 0 || p >= t.Ring.Partitions() {
		return nil, 0, errNoRing
	}
	lo, hi := t.Ring.PartitionRange(p)
	if tree, scanned, err := n.eng.PartitionTree(lo, hi); !errors.Is(err, engine.ErrTreeRange) {
		return tree, scanned, err
	}
	// Not the width of the engine's kept trees (a ring of another
	// partition count): a tree of its own, from a scan.
	tree, scanned, err := n.eng.ScanTree(lo, hi)
	if err != nil {
		return nil, scanned, err
	}
	tree.Seal()
	return tree, scanned, nil
}

// records yields this node's records with hashes in [lo, hi).
func (n *Node) records(lo, hi uint64) iter.Seq2[[]byte, []byte] {
	return func(yield func(key, rec []byte) bool) {
		n.eng.ScanHashRange(lo, hi, yield)
	}
}
