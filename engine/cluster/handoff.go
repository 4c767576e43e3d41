package cluster

import (
	"context"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
)

// Ownership handoff: after the ring changes (a join, a leave), a node may
// hold records of partitions it no longer replicates. This loop pushes
// each such record to the partition's current replicas and lets go of it
// once all of them acknowledged, so data follows the ring in the
// background (Dynamo §4.9). Rounds are bounded (HandoffBatch records) so
// the transfer cannot crowd out client requests.

type heldRecord struct {
	key, rec []byte
}

// HandOff runs one round: it finds up to HandoffBatch records of
// partitions this node does not replicate, sends them to their replicas,
// and drops those every replica took. It returns how many it dropped.
func (n *Node) HandOff() int {
	t := n.topo.Topology()
	r := t.Ring
	if r == nil || r.Len() == 0 {
		return 0
	}
	// A node outside the ring (it left, or has not joined yet) owns
	// nothing, so everything it holds goes to the owners.
	nrep := min(n.opts.N, r.Len())
	moved := 0
	budget := n.opts.HandoffBatch
	// Resume where the last round stopped, so records that cannot move
	// (an owner refusing, a key rewritten constantly) do not starve the
	// partitions after them.
	start := int(n.handoffNext.Load())
	for i := 0; i < r.Partitions() && budget > 0 && !n.closed.Load(); i++ {
		p := (start + i) % r.Partitions()
		n.handoffNext.Store(uint64(p + 1))
		owners, err := r.PreferenceList(p, nrep, nil)
		if err != nil || contains(owners, t.Self) {
			continue
		}
		ready := true
		for _, id := range owners {
			if !n.healthy(t, id) {
				ready = false // wait for all owners; hints cover writes meanwhile
			}
		}
		if !ready {
			continue
		}
		lo, hi := r.PartitionRange(p)
		var batch []heldRecord
		n.eng.ScanHashRange(lo, hi, func(key, rec []byte) bool {
			batch = append(batch, heldRecord{append([]byte(nil), key...), append([]byte(nil), rec...)})
			return len(batch) < budget
		})
		budget -= len(batch)
		for _, h := range batch {
			if n.pushToAll(t, owners, h) {
				if dropped, _ := n.eng.DropRecordIf(h.key, h.rec); dropped {
					moved++
					n.stats.handedOff.Add(1)
				}
			}
		}
	}
	return moved
}

// pushToAll sends a record to every owner and reports whether all took it.
func (n *Node) pushToAll(t *Topology, owners []string, h heldRecord) bool {
	for _, id := range owners {
		m := msg.MergeRequest{Key: h.key, Rec: h.rec}
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
		err := n.sendMerge(ctx, t, id, &m)
		cancel()
		if err != nil {
			return false
		}
	}
	return true
}
