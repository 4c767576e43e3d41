package cluster

import (
	"context"
	"errors"

	"github.com/dynamo-kv/dynamo/engine/merkle"
	"github.com/dynamo-kv/dynamo/protocol/wire"
	"github.com/dynamo-kv/dynamo/ring"
)

// Anti-entropy (Dynamo §4.7): replicas that missed writes nobody reads
// again are caught up by comparing hash trees. Each round, this node takes
// the next partition it replicates, builds a merkle tree of its records
// there (a scan of one contiguous store range), asks another replica for
// the leaves of its tree, and for every segment that differs exchanges the
// records both ways; merges are idempotent and causal, so nothing is lost
// whichever side was behind. One partition per round bounds the work.

// segmentBudget bounds a segment answer; a larger segment is sent in part
// and the rest repaired in later rounds.
const segmentBudget = 4 << 20

// AntiEntropy compares the next partition this node replicates with one
// other healthy replica and repairs the differences. It returns how many
// keys changed on either side.
func (n *Node) AntiEntropy() int {
	t := n.topo.Topology()
	r := t.Ring
	if r == nil || r.Len() < 2 {
		return 0
	}
	nrep := min(n.opts.N, r.Len())
	for range r.Partitions() {
		p := int(n.aaeNext.Add(1)-1) % r.Partitions()
		owners, err := r.PreferenceList(p, nrep, nil)
		if err != nil || !contains(owners, t.Self) {
			continue
		}
		var peers []string
		for _, id := range owners {
			if id != t.Self && n.healthy(t, id) {
				peers = append(peers, id)
			}
		}
		if len(peers) == 0 {
			continue
		}
		peer := peers[(p/r.Partitions()+int(n.stats.aaeRounds.Load()))%len(peers)]
		return n.exchange(t, p, peer)
	}
	return 0
}

// exchange reconciles partition p with one peer.
func (n *Node) exchange(t *Topology, p int, peer string) int {
	n.stats.aaeRounds.Add(1)
	local, err := n.partitionTree(t, p)
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*n.opts.Timeout)
	defer cancel()
	addr := t.Addrs[peer]
	_, leaves, err := n.tr.Call(ctx, addr, msgTree, wire.AppendUint32(nil, uint32(p)), nil)
	if err != nil {
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
		req := wire.AppendUint64(wire.AppendUint64(nil, lo), hi)
		_, resp, err := n.tr.Call(ctx, addr, msgSegment, req, nil)
		if err != nil {
			return repaired
		}
		theirs, err := decodeSegment(resp)
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
				push = append(push, heldRecord{append([]byte(nil), key...), append([]byte(nil), rec...)})
			}
			return true
		})
		for _, h := range push {
			m := mergeReq{key: h.key, rec: h.rec}
			if _, _, err := n.tr.Call(ctx, addr, msgMerge, appendMerge(nil, &m), nil); err == nil {
				repaired++
			}
		}
	}
	n.stats.aaeRepaired.Add(uint64(repaired))
	return repaired
}

var errNoRing = errors.New("cluster: no ring")

// partitionTree builds the merkle tree of this node's records in p.
func (n *Node) partitionTree(t *Topology, p int) (*merkle.Tree, error) {
	if t.Ring == nil || p < 0 || p >= t.Ring.Partitions() {
		return nil, errNoRing
	}
	lo, hi := t.Ring.PartitionRange(p)
	tree, err := merkle.New(lo, hi)
	if err != nil {
		return nil, err
	}
	err = n.eng.ScanHashRange(lo, hi, func(key, rec []byte) bool {
		tree.Add(ring.HashKey(key), key, rec)
		return true
	})
	tree.Seal()
	return tree, err
}

// appendSegment encodes this node's records with hashes in [lo, hi):
// a truncated flag, then (key, record) pairs up to segmentBudget bytes.
func (n *Node) appendSegment(dst []byte, lo, hi uint64) []byte {
	var body []byte
	truncated := uint8(0)
	n.eng.ScanHashRange(lo, hi, func(key, rec []byte) bool {
		if len(body)+len(key)+len(rec) > segmentBudget {
			truncated = 1
			return false
		}
		body = wire.AppendBytes(wire.AppendBytes(body, key), rec)
		return true
	})
	return append(wire.AppendUint8(dst, truncated), body...)
}

func decodeSegment(p []byte) (map[string][]byte, error) {
	d := wire.NewDecoder(p)
	d.Uint8() // truncated: what is missing is repaired in a later round
	out := map[string][]byte{}
	for d.Remaining() > 0 && d.Err() == nil {
		key := d.Bytes()
		rec := d.Bytes()
		out[string(key)] = rec
	}
	return out, d.Err()
}
