package cluster

import (
	"context"
	"errors"
	"iter"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/ring"
)

// Catch-up pulls, both ends. The puller (CatchUp, ready.go) compares its
// tree of a partition with a source's and takes the segments that differ;
// the source serves the tree and the segments. Both ends pace the work by
// their own admission controller (Dynamo §6.5): the puller's catchup task
// counts the records it reads and takes, the source's transfer task the
// records it reads and sends. The source is where a join hurts clients (a
// joiner serves none yet, so its own latency says nothing), so a source
// whose grant is in debt refuses the pull's tree (msg.ErrBusy) and the
// puller tries that source again next round. A pull once admitted runs to
// its end, its cost charged to both grants afterwards: gating each message
// instead let the tree, requested again every round, eat the grant while
// the segments never came. Both tasks have a floor, so a join under full
// load finishes, later.

// pullResult is how one pull of a partition from one source went.
type pullResult uint8

const (
	pullFailed pullResult = iota // try again next round
	pullWhole                    // caught up with this source
	pullBusy                     // the source's grant is spent: leave it alone this round
)

// pull takes into this node every record peer holds in partition p that
// differs from its own (a merkle comparison, as anti-entropy's, but one
// way). pullWhole: the partition is now caught up with peer, every
// differing segment came whole. (Writes landing meanwhile reach this node
// too, as a replica; requiring a pass that merged nothing new stalled on a
// partition under steady writes.)
func (n *Node) pull(t *Topology, p int, peer string) pullResult {
	return n.pullCounted(t, p, peer, nil)
}

// pulled is what a pull merged that changed this node's records: the
// progress dynctl transfers shows.
type pulled struct{ records, bytes int64 }

// pullCounted is pull, adding what it merged to got (when not nil).
func (n *Node) pullCounted(t *Topology, p int, peer string, got *pulled) pullResult {
	addr := t.Addrs[peer]
	// The source's tree first: a source that refuses costs nothing here.
	ctx, cancel := context.WithTimeout(context.Background(), 4*n.opts.Timeout)
	leaves, err := n.peers.Tree(ctx, addr, p, msg.CatchUp, nil)
	cancel()
	if refusedWith(err, msg.ErrBusy) {
		n.stats.pullsBusy.Add(1)
		return pullBusy
	}
	if err != nil {
		return pullFailed
	}
	local, scanned, err := n.partitionTree(t, p)
	n.bgw.catchup.Charge(scanned)
	if err != nil {
		return pullFailed
	}
	diff, err := local.DiffLeaves(leaves)
	if err != nil {
		return pullFailed
	}
	for _, seg := range diff {
		lo, hi := local.SegmentRange(seg)
		err := n.segment(addr, lo, hi, msg.CatchUp, func(theirs map[string][]byte) error {
			n.bgw.catchup.Charge(len(theirs))
			for key, rec := range theirs {
				changed, err := n.eng.MergeRecord([]byte(key), rec, kv.DurabilityDefault)
				if err != nil {
					return err
				}
				if changed {
					n.stats.catchUpRecords.Add(1)
					if got != nil {
						got.records++
						got.bytes += int64(len(key) + len(rec))
					}
				}
			}
			return nil
		})
		if err != nil {
			return pullFailed
		}
	}
	return pullWhole
}

// errSegmentStuck: a truncated segment answer with nothing new in it.
var errSegmentStuck = errors.New("cluster: a truncated segment answer without records")

// segment takes every record peer holds with hashes in [lo, hi), handing
// take each answer: a segment larger than msg.SegmentBudget comes in
// parts, each asked for from the last key of the one before (records are
// sent in hash order). Before, a truncated segment was asked
// for again from its start in the next round, got the same part, and a
// pull of it never finished. Each part has the whole of 4×Timeout: one
// deadline for them all made a large enough segment fail part-way every
// round.
func (n *Node) segment(addr string, lo, hi uint64, why msg.Purpose, take func(map[string][]byte) error) error {
	// A part resumes at the last hash sent, inclusive, without the keys
	// already taken there: keys are stored by hash, then key, and two keys
	// of one hash may be split between parts.
	var taken map[string]bool
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 4*n.opts.Timeout)
		theirs, truncated, err := n.peers.Segment(ctx, addr, lo, hi, why)
		cancel()
		if err != nil {
			return err
		}
		for key := range taken {
			delete(theirs, key)
		}
		if truncated && len(theirs) == 0 {
			return errSegmentStuck
		}
		if err := take(theirs); err != nil {
			return err
		}
		if !truncated {
			return nil
		}
		last := lo
		for key := range theirs {
			last = max(last, ring.HashKey([]byte(key)))
		}
		if last != lo {
			taken = nil
		}
		if taken == nil {
			taken = map[string]bool{}
		}
		for key := range theirs {
			if ring.HashKey([]byte(key)) == last {
				taken[key] = true
			}
		}
		lo = last
	}
}

// serveTree answers a tree request. An anti-entropy exchange of a
// partition this node is catching up is refused: its copy is not whole
// yet, and its pull takes what the exchange would (one record per merge,
// the other way). A pull is served from this node's own copy whatever its
// state, within its transfer grant. A handoff's question is answered only
// by an owner of the partition (see handOffByTree).
func (n *Node) serveTree(p int, why msg.Purpose, dst []byte) ([]byte, error) {
	t := n.topo.Topology()
	if t.Ring == nil || p < 0 || p >= t.Ring.Partitions() {
		return nil, errNoRing
	}
	switch why {
	case msg.AntiEntropy:
		if !n.partitionReadable(t, p) {
			return nil, msg.ToRemote(msg.ErrNotReady)
		}
	case msg.CatchUp:
		if !n.bgw.transfer.Ready(n.bgw.now()) {
			n.stats.servesBusy.Add(1)
			return nil, msg.ToRemote(msg.ErrBusy)
		}
	case msg.Handoff:
		owners, err := t.Ring.PreferenceList(p, min(n.opts.N, t.Ring.Len()), nil)
		if err != nil || !contains(owners, t.Self) {
			return nil, msg.ToRemote(msg.ErrNotReady)
		}
		// A kept tree costs a copy; one to build, a scan, waits for the grant.
		if lo, hi := t.Ring.PartitionRange(p); !n.eng.TreeKept(lo, hi) && !n.bgw.transfer.Ready(n.bgw.now()) {
			n.stats.servesBusy.Add(1)
			return nil, msg.ToRemote(msg.ErrBusy)
		}
	}
	tree, scanned, err := n.partitionTree(t, p)
	if why != msg.AntiEntropy {
		n.bgw.transfer.Charge(scanned) // 0 for a kept tree
	}
	if err != nil {
		return nil, msg.ToRemote(err)
	}
	return tree.AppendLeaves(dst), nil
}

// serveSegment answers a segment request; a pull's is charged to this
// node's transfer grant (admitted with the pull's tree).
func (n *Node) serveSegment(lo, hi uint64, why msg.Purpose, dst []byte) ([]byte, error) {
	if why != msg.CatchUp {
		return msg.AppendSegment(dst, n.records(lo, hi)), nil
	}
	sent := 0
	out := msg.AppendSegment(dst, counted(n.records(lo, hi), &sent))
	n.bgw.transfer.Charge(sent)
	return out, nil
}

// counted yields what seq yields, counting it into *count.
func counted(seq iter.Seq2[[]byte, []byte], count *int) iter.Seq2[[]byte, []byte] {
	return func(yield func(k, v []byte) bool) {
		for k, v := range seq {
			*count++
			if !yield(k, v) {
				return
			}
		}
	}
}
