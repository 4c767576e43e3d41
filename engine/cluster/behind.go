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
// keep it as the first spare, asked only if a target fails.
//
// No read can miss anything by it: a read answers from the first R
// replies of its targets, whichever they are, so a set of R targets
// without the replica is one it could already answer from. Reads at
// R = N, or with too few others healthy, still ask it. A mark outlives
// the catch-up by at most behindFor, and costs only that the replica is
// not read (nor read-repaired) meanwhile.

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

// mark notes that id answered a read of partition p of r as behind.
func (b *behindMarks) mark(id string, r *ring.Ring, p int, now time.Time) {
	if r == nil || p < 0 || p >= r.Partitions() {
		return
	}
	pb := b.of(id, r)
	if pb == nil {
		pb = &peerBehind{version: r.Version(), fingerprint: r.Fingerprint(), until: make([]atomic.Int64, r.Partitions())}
		b.peers.Store(id, pb) // a racing mark under the same ring may be lost: the next answer marks again
	}
	pb.until[p].Store(now.Add(behindFor).UnixNano())
	b.any.Store(true)
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
// moved says whether it left any out; it allocates only then.
func aroundBehind(r int, targets, spares []target, behind func(target) bool) (ts, sp []target, moved bool) {
	out := 0
	for _, tg := range targets {
		if behind(tg) {
			out++
		}
	}
	if out == 0 || len(targets) <= r {
		return targets, spares, false // fewer targets than R take spares too: all are asked
	}
	keep := out - min(out, len(targets)-r) // behind targets that must stay to make r
	if keep == out {
		return targets, spares, false
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
	return ts, append(sp, spares...), true
}

// readTargets is where a read of rt at R=r goes: around the targets this
// node has heard are catching up the key's partition.
func (n *Node) readTargets(t *Topology, rt route, r int) (targets, spares []target) {
	if !n.behind.any.Load() || t.Ring == nil {
		return rt.targets, rt.spares
	}
	p := t.Ring.Partition(rt.hash)
	now := time.Now()
	targets, spares, moved := aroundBehind(r, rt.targets, rt.spares, func(tg target) bool {
		return tg.id != t.Self && n.behind.is(tg.id, t.Ring, p, now)
	})
	if moved {
		n.stats.readsAroundBehind.Add(1)
	}
	return targets, spares
}

// noteBehind marks id behind in key's partition when its answer says so.
func (n *Node) noteBehind(t *Topology, id string, key []byte, behind bool) {
	if behind && t.Ring != nil {
		n.behind.mark(id, t.Ring, t.Ring.Partition(ring.HashKey(key)), time.Now())
	}
}
