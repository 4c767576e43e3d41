package cluster

import (
	"context"
	"log/slog"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/merkle"
	"github.com/dynamo-kv/dynamo/ring"
)

// Ownership handoff: after the ring changes (a join, a leave), a node may
// hold records of partitions it no longer replicates. This loop makes sure
// each such record is at every one of the partition's current replicas
// and then lets go of it, so data follows the ring in the background
// (Dynamo §4.9). A new replica has usually pulled most of them already
// (CatchUp), so the loop first asks each owner, one message per batch,
// which records it holds as they are here (Holds), sends only the others,
// and drops a record once every owner has it. Rounds take their work from
// the handoff task of the admission controller: a record sent costs a
// unit, one read and checked but not sent a heldCost fraction of one.

type heldRecord struct {
	key, rec []byte
}

// heldCopy is a heldRecord of copies of key and rec, which a scan reuses.
func heldCopy(key, rec []byte) heldRecord {
	return heldRecord{append([]byte(nil), key...), append([]byte(nil), rec...)}
}

// heldCost is how many records found already held cost the handoff grant
// one unit: they are read and checked here, and dropped, but not sent.
// It is the measured ratio of the two (BenchmarkHandOff, 1 KB records,
// two owners): 141–158 µs a record sent, 9.7–10.5 µs one held. It was 8
// while a held record cost 23 µs, before drops stopped scanning for hints
// no node held (Engine.HasHints) and held segments were matched by their
// kept leaf rather than by a digest of each record (ScanSegmentIf).
const heldCost = 16

// holdsBatch bounds the keys of one Holds message.
const holdsBatch = 1024

// HandOff runs one round: it finds records of partitions this node does
// not replicate, makes sure every replica holds them, and drops them. It
// returns how many it dropped.
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
	spent := handoffCost{}
	defer func() {
		if c := spent.units(); c < budget {
			n.bgw.handoff.Refund(budget - c)
		} else {
			n.bgw.handoff.Charge(c - budget)
		}
		n.bgw.handoff.Done(moved)
	}()
	// Resume where the last round stopped, so records that cannot move
	// (an owner refusing, a key rewritten constantly) do not starve the
	// partitions after them.
	start := int(n.handoffNext.Load())
	for i := 0; i < r.Partitions() && spent.units() < budget && !n.closed.Load(); i++ {
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
		moved += n.handOffByTree(t, p, owners, budget, &spent)
	}
	return moved
}

// handOffByTree hands off partition p, which owners replicate, within
// what is left of budget, and returns how many records it dropped. Each
// owner sends its tree of p (kept up to date on its writes, so it costs
// it a copy of 64 leaves); a segment whose leaf in this node's kept tree
// is the one every owner sent is held by each of them exactly as here,
// and its records drop without a question per key and without a digest
// of each (Engine.ScanSegmentIf). The other segments go through
// handOffPartition. Before (Holds per key), every record cost each owner
// a point read charged to its transfer grant: at the grants' floors the
// old owners of a join at 1,000,000 keys dropped about 180 records a
// second each, and still held a third of their extra copies after 15
// minutes.
//
// Which segments hold anything here comes from this node's own kept tree
// of p (a zero leaf is an empty segment), not from a scan: a partition
// whose records were dropped is full of their tombstones until compaction
// removes them, and a round that looked for the first live record by a
// scan read through every tombstone of every partition already handed
// off. At 1,000,000 keys, late in a join, that was 57 % of an old owner's
// CPU (a profile: HandOff → ScanHashRange → Iterator.First), with its
// handoff grant at the floor.
func (n *Node) handOffByTree(t *Topology, p int, owners []string, budget int, spent *handoffCost) (moved int) {
	lo, hi := t.Ring.PartitionRange(p)
	mine, _, err := n.eng.PartitionTree(lo, hi)
	if err != nil {
		return n.handOffPartition(t, owners, lo, hi, budget, spent)
	}
	var heldHere [merkle.Leaves]bool
	empty := true
	for seg := range merkle.Leaves {
		heldHere[seg] = mine.Leaf(seg) != (merkle.Digest{})
		empty = empty && !heldHere[seg]
	}
	if empty {
		return 0 // nothing to hand off: no question to the owners
	}
	leaves := make([][]byte, len(owners))
	for i, id := range owners {
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
		l, err := n.peers.Tree(ctx, t.Addrs[id], p, msg.Handoff, nil)
		cancel()
		if refusedWith(err, msg.ErrBusy) {
			n.stats.handoffsWaited.Add(1)
			return 0
		}
		if err != nil || len(l) != merkle.Leaves*merkle.DigestSize {
			return n.handOffPartition(t, owners, lo, hi, budget, spent) // key by key
		}
		leaves[i] = l
	}
	for seg := range merkle.Leaves {
		if spent.units() >= budget || n.closed.Load() {
			return moved
		}
		if !heldHere[seg] {
			continue // empty here when the round began; a later write waits for the next
		}
		slo, shi := mine.SegmentRange(seg)
		leaf := leaves[0][seg*merkle.DigestSize : (seg+1)*merkle.DigestSize]
		agree := true
		for _, l := range leaves[1:] {
			agree = agree && string(l[seg*merkle.DigestSize:(seg+1)*merkle.DigestSize]) == string(leaf)
		}
		// The owners agree on the segment: if this node's kept tree has
		// the same leaf, its records here are held by each of them
		// exactly as here, and they are read under the partition's lock
		// that makes them the leaf's records.
		var batch []heldRecord
		held := false
		if agree {
			held, _ = n.eng.ScanSegmentIf(lo, hi, seg, merkle.Digest(leaf), func(key, rec []byte) bool {
				batch = append(batch, heldCopy(key, rec))
				return true
			})
		}
		if !held {
			moved += n.handOffPartition(t, owners, slo, shi, budget, spent)
			continue
		}
		n.stats.handoffScans.Add(1)
		if len(batch) == 0 {
			continue
		}
		spent.held += len(batch)
		if !n.makeDurable(t, owners, batch[len(batch)-1]) {
			continue
		}
		// A record written here since the scan no longer matches what the
		// owners were compared with: DropRecordIf keeps it.
		for _, h := range batch {
			if dropped, _ := n.eng.DropRecordIf(h.key, h.rec); dropped {
				moved++
				n.stats.handedOff.Add(1)
				n.stats.handedOffHeld.Add(1)
			}
		}
		n.stats.handoffSegmentsHeld.Add(1)
		n.logs.handedOff.add(n.log, slog.LevelInfo, "handed off records of partitions this node no longer replicates", "", uint64(len(batch)))
	}
	return moved
}

// handOffPartition hands off the records this node holds in [lo, hi),
// a partition owners replicate, within what is left of budget, and
// returns how many it dropped. It goes in chunks, each no larger than the
// grant left would pay for if every record had to be sent, so a
// partition whose owners lack its records costs no more than one sent
// record each, and one whose owners hold them moves on to the next chunk.
func (n *Node) handOffPartition(t *Topology, owners []string, lo, hi uint64, budget int, spent *handoffCost) (moved int) {
	cursor := lo
	for spent.units() < budget && !n.closed.Load() {
		chunk := min(holdsBatch, budget-spent.units())
		var batch []heldRecord
		n.stats.handoffScans.Add(1)
		n.eng.ScanHashRange(cursor, hi, func(key, rec []byte) bool {
			batch = append(batch, heldCopy(key, rec))
			return len(batch) < chunk
		})
		if len(batch) == 0 {
			return moved
		}
		held, wait := n.heldBy(t, owners, batch)
		if wait {
			// An owner is still to pull this partition from this node (what
			// this node would send, the pull takes, and the records drop
			// once it holds them), or its grant for answering is spent.
			spent.held += len(batch)
			n.stats.handoffsWaited.Add(1)
			return moved
		}
		var took []heldRecord
		heldHere := 0
		for i, h := range batch {
			var missing []string
			for _, id := range owners {
				if !held[id][i] {
					missing = append(missing, id)
				}
			}
			switch {
			case len(missing) == 0:
				spent.held++
				heldHere++
				took = append(took, h)
			case spent.units() >= budget:
				spent.held++ // checked, not sent: next time round
			default:
				spent.sent++
				if n.pushToAll(t, missing, h) {
					took = append(took, h)
				}
			}
		}
		if len(took) > 0 && n.makeDurable(t, owners, took[len(took)-1]) {
			for _, h := range took {
				if dropped, _ := n.eng.DropRecordIf(h.key, h.rec); dropped {
					moved++
					n.stats.handedOff.Add(1)
				}
			}
			n.stats.handedOffHeld.Add(uint64(heldHere))
			n.logs.handedOff.add(n.log, slog.LevelInfo, "handed off records of partitions this node no longer replicates", "", uint64(len(took)))
		}
		next := ring.HashKey(batch[len(batch)-1].key) + 1
		if len(batch) < chunk || next == 0 || (hi != 0 && next >= hi) {
			return moved // the partition's end
		}
		cursor = next
	}
	return moved
}

// handoffCost is the work of one handoff round: records sent, and records
// read and checked with the owners but not sent.
type handoffCost struct{ sent, held int }

func (c handoffCost) units() int { return c.sent + (c.held+heldCost-1)/heldCost }

// heldBy asks each owner which records of batch it holds as they are
// here: held[id][i] for batch[i]. An owner that does not answer holds
// none, as far as this round knows. wait: an owner asks this node to come
// back later, still to pull the partition from it (msg.ErrNotReady) or
// out of grant for answering (msg.ErrBusy); the others were not asked.
func (n *Node) heldBy(t *Topology, owners []string, batch []heldRecord) (held map[string][]bool, wait bool) {
	held = make(map[string][]bool, len(owners))
	kds := make([]msg.KeyDigest, len(batch))
	for i, h := range batch {
		kds[i] = msg.KeyDigest{Key: h.key, Digest: engine.Digest(h.rec)}
	}
	for _, id := range owners {
		answers := make([]bool, len(batch))
		for lo := 0; lo < len(kds); lo += holdsBatch {
			hi := min(len(kds), lo+holdsBatch)
			ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
			ok, err := n.peers.Holds(ctx, t.Addrs[id], t.Self, kds[lo:hi])
			cancel()
			if refusedWith(err, msg.ErrNotReady) || refusedWith(err, msg.ErrBusy) {
				return nil, true
			}
			if err != nil {
				break
			}
			copy(answers[lo:hi], ok)
		}
		held[id] = answers
	}
	return held, false
}

// holds answers a Holds message: per pair, whether this node owns the key
// by its own ring (a node that does not would hand it off in turn, and two
// nodes each trusting the other's copy could both drop theirs) and holds
// exactly that record. A node still to pull the partition of any of the
// keys from the asker refuses them all (msg.ErrNotReady): its pull takes
// them, where the asker would otherwise send each record the pull also
// brings. Once it has pulled from the asker it answers, so a handoff
// waits on that one pull, not on the whole catch-up. The lookups are
// paced by this node's transfer grant (msg.ErrBusy while it is in debt).
func (n *Node) holds(asker string, kds []msg.KeyDigest) ([]bool, error) {
	t := n.topo.Topology()
	out := make([]bool, len(kds))
	var buf []byte
	for _, kd := range kds {
		if h := ring.HashKey(kd.Key); !n.readable(t, h) && n.ready.awaits(t.Ring.Partition(h), asker) {
			return nil, msg.ErrNotReady
		}
	}
	// A point read per key, here, for another node's background work: it
	// is charged to this node's transfer grant, and refused while the
	// grant is in debt, as a pull's tree is.
	if !n.bgw.transfer.Ready(n.bgw.now()) {
		n.stats.servesBusy.Add(1)
		return nil, msg.ErrBusy
	}
	defer n.bgw.transfer.Charge(len(kds))
	for i, kd := range kds {
		if !n.owns(t, kd.Key) {
			continue
		}
		rec, found, err := n.eng.Record(kd.Key, buf[:0])
		if err == nil && found && engine.Digest(rec) == kd.Digest {
			out[i] = true
		}
		buf = rec
	}
	return out, nil
}

// pushToAll sends a record to each of owners, at the owners' own
// durability, and reports whether all took it. Before this node lets go of its copy,
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
