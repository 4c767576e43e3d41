package cluster

import (
	"context"
	"log/slog"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
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
	budget := n.bgw.handoff.Take(n.opts.HandoffBatch, n.bgw.now())
	defer func() {
		n.bgw.handoff.Refund(budget)
		n.bgw.handoff.Done(moved)
	}()
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
		var took []heldRecord
		for _, h := range batch {
			if n.pushToAll(t, owners, h) {
				took = append(took, h)
			}
		}
		if len(took) == 0 || !n.makeDurable(t, owners, took[len(took)-1]) {
			continue
		}
		for _, h := range took {
			if dropped, _ := n.eng.DropRecordIf(h.key, h.rec); dropped {
				moved++
				n.stats.handedOff.Add(1)
			}
		}
		if len(took) > 0 {
			n.logs.handedOff.add(n.log, slog.LevelInfo, "handed off records of partitions this node no longer replicates", "", uint64(len(took)))
		}
	}
	return moved
}

// pushToAll sends a record to every owner, at the owners' own durability,
// and reports whether all took it. Before this node lets go of its copy,
// makeDurable must succeed.
func (n *Node) pushToAll(t *Topology, owners []string, h heldRecord) bool {
	for _, id := range owners {
		if n.mergeTo(t, id, h, kv.DurabilityDefault) != nil {
			return false
		}
	}
	return true
}

// mergeTo sends one record to node id, bounded by the replica timeout, as
// a transfer: this node may let go of its copy once id has it, so id
// takes it only as one of the key's owners (msg.MergeRequest.Transfer).
func (n *Node) mergeTo(t *Topology, id string, h heldRecord, d kv.Durability) error {
	m := msg.MergeRequest{Key: h.key, Rec: h.rec, Durability: d, Transfer: true}
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	defer cancel()
	return n.sendMerge(ctx, t, id, &m)
}

// makeDurable makes what the owners took from this node (pushToAll) as
// durable there as transferDurability asks, before this node drops its
// copies: it sends last, the last record each took, again at that
// durability. A durable merge returns once everything its receiver
// acknowledged before it is durable too (engine.Merge), so one fsync per
// owner covers a whole batch.
func (n *Node) makeDurable(t *Topology, owners []string, last heldRecord) bool {
	for rank, id := range owners {
		d := n.transferDurability(rank)
		if d == kv.DurabilityDefault {
			continue
		}
		if n.mergeTo(t, id, last, d) != nil {
			return false
		}
	}
	return true
}

// transferDurability is how durable a receiver of the given rank (its
// place among the key's owners being sent to) must hold a record this
// node sends and then lets go of (handoff, hint delivery): the copy it
// drops may be the write's only durable one (DurableReplicas: the
// coordinator's), so the first DurableReplicas receivers must have it
// fsynced; and a receiver never keeps it less durably than this node's
// own mode. DurabilityDefault: the receiver's own mode will do.
func (n *Node) transferDurability(rank int) kv.Durability {
	if rank < n.opts.DurableReplicas {
		return kv.Sync
	}
	if d := n.eng.Durability(); d != kv.Buffered {
		return d
	}
	return kv.DurabilityDefault
}
