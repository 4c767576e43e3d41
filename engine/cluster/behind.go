package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
)

// Reads go around replicas that are catching up. A replica catching up a
// key's partition (ready.go) answers a read by reading through to the
// partition's earlier replicas: a round trip, a read there and a merge
// here, for every read. In bench-join at 300,000 keys that was 1,668
// reads a second through the joiner, each also a fetch served by an old
// owner: most of what the join cost the foreground. Its answer says so
// (msg.FetchAnswer.Behind), and the coordinator that hears it marks the
// replica behind in that partition, under that ring, for behindFor. Its
// reads of the partition then leave it out while R targets remain, and
// keep it among the first spares (after those askR left out), asked if a
// target fails or, hedging, if the targets have not made R within the
// hedge delay (half the replica timeout when only such replicas were left
// out).
//
// Why no read misses more by it: a read answers from the first R replies
// of its targets, whichever they are, so R targets without the replica
// are a set it could already answer from. That holds while they answer;
// when one hangs, it fails only at the read's deadline, too late for a
// spare to be asked, and the round would answer from fewer copies than
// one that had asked the replica (a reviewer's test read a miss of an
// acknowledged write that way). So the read hedges: if the targets have
// not made R within half the replica timeout, it asks the replicas it
// left out
// (readRound.hedge). Reads at R = N, or with too few others healthy,
// still ask it at once. A mark outlives the catch-up by at most
// behindFor, and costs only that the replica is not read (nor
// read-repaired) meanwhile.

// behindFor is how long a replica's answer that it is catching up keeps
// it out of a coordinator's reads of that partition.
const behindFor = 10 * time.Second

// behindMarks is, per peer, until when reads of each partition go around
// it; one ring's marks at a time.
type behindMarks struct {
	any   atomic.Bool // a mark was ever made: reads look only then
	peers sync.Map    // node id → *peerBehind
}

type peerBehind struct {
	version, fingerprint uint64         // the ring the marks were made under
	until                []atomic.Int64 // per partition, unix nanoseconds
}

// mark notes that id answered a read of partition p of r as behind. An
// answer under an older ring than the marks held is ignored; one under a
// newer ring replaces them.
func (b *behindMarks) mark(id string, r *ring.Ring, p int, now time.Time) {
	if r == nil || p < 0 || p >= r.Partitions() {
		return
	}
	pb := b.of(id, r)
	if pb == nil {
		if pb = b.install(id, r); pb == nil {
			return
		}
	}
	pb.until[p].Store(now.Add(behindFor).UnixNano())
	b.any.Store(true)
}

// install makes id's marks those of ring r, unless they are already, or
// are of a newer ring (then nil: the answer was stale).
func (b *behindMarks) install(id string, r *ring.Ring) *peerBehind {
	fresh := &peerBehind{version: r.Version(), fingerprint: r.Fingerprint(), until: make([]atomic.Int64, r.Partitions())}
	for {
		v, loaded := b.peers.LoadOrStore(id, fresh)
		if !loaded {
			return fresh
		}
		old := v.(*peerBehind)
		switch {
		case old.version == fresh.version && old.fingerprint == fresh.fingerprint:
			return old // a racing mark made them
		case old.version > fresh.version:
			return nil
		case b.peers.CompareAndSwap(id, old, fresh):
			return fresh
		}
		// Changed meanwhile: look again.
	}
}

// is reports whether reads of partition p of r go around id at now.
func (b *behindMarks) is(id string, r *ring.Ring, p int, now time.Time) bool {
	pb := b.of(id, r)
	return pb != nil && p >= 0 && p < len(pb.until) && now.UnixNano() < pb.until[p].Load()
}

// of is id's marks under r, or nil.
func (b *behindMarks) of(id string, r *ring.Ring) *peerBehind {
	v, ok := b.peers.Load(id)
	if !ok || r == nil {
		return nil
	}
	pb := v.(*peerBehind)
	if pb.version != r.Version() || pb.fingerprint != r.Fingerprint() {
		return nil
	}
	return pb
}

// aroundBehind is a read's targets without those behind reports as
// catching up, as many of them as leave r targets (the later ones in
// preference order first); those left out go first among the spares.
// left is how many it left out; it allocates only when it left any.
func aroundBehind(r int, targets, spares []target, behind func(target) bool) (ts, sp []target, left int) {
	out := 0
	for _, tg := range targets {
		if behind(tg) {
			out++
		}
	}
	if out == 0 || len(targets) <= r {
		return targets, spares, 0 // fewer targets than R take spares too: all are asked
	}
	keep := out - min(out, len(targets)-r) // behind targets that must stay to make r
	if keep == out {
		return targets, spares, 0
	}
	ts = make([]target, 0, len(targets)-out+keep)
	sp = make([]target, 0, out-keep+len(spares))
	for _, tg := range targets {
		switch {
		case !behind(tg):
			ts = append(ts, tg)
		case keep > 0:
			keep--
			ts = append(ts, tg)
		default:
			sp = append(sp, tg)
		}
	}
	left = len(sp)
	return ts, append(sp, spares...), left
}

// readTargets is where a read of rt at R=r goes: around the targets this
// node has heard are catching up the key's partition, left is how many
// it left out (the first spares; the read hedges with them).
func (n *Node) readTargets(t *Topology, rt route, r int) (targets, spares []target, left int) {
	if !n.behind.any.Load() || t.Ring == nil {
		return rt.targets, rt.spares, 0
	}
	p := t.Ring.Partition(rt.hash)
	now := time.Now()
	targets, spares, left = aroundBehind(r, rt.targets, rt.spares, func(tg target) bool {
		return tg.id != t.Self && n.behind.is(tg.id, t.Ring, p, now)
	})
	if left > 0 {
		n.stats.readsAroundBehind.Add(1)
	}
	return targets, spares, left
}

// noteBehind marks id behind in key's partition when its answer says so.
func (n *Node) noteBehind(t *Topology, id string, key []byte, behind bool) {
	if behind && t.Ring != nil {
		n.behind.mark(id, t.Ring, t.Ring.Partition(ring.HashKey(key)), time.Now())
	}
}
