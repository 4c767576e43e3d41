package cluster

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/ring"
)

// Catching up. A node that becomes a replica of a partition (it joined the
// ring, or a join or a leave moved the partition to it) holds none of
// what the partition's earlier replicas acknowledged: handoff pushes it in
// the background, later. Counted in a read quorum, its empty copy let a
// read at R=1, or at R=2 over two new replicas, miss a value every old
// replica held; a conditional write decided there missed it too.
//
// So the node pulls each such partition from every node that replicated
// it in either ring, the ones whose places it took first (a merkle
// comparison with each, taking what differs and sending nothing:
// CatchUp), and until it has, it answers a read of the partition by
// reading through: it fetches the key's own copy (FetchOwn) from the
// replicas it replaced that it has not pulled yet (readThrough), merges
// what they hold into its own, and answers with that. If no source answers, it
// refuses the read (msg.ErrNotReady) and the coordinator reads another
// replica. Writes reach it as usual, so once the pulls are done it holds
// everything acknowledged before and after: a partition's ownership moves
// for readers only when its transfer is complete, and meanwhile reads
// cost one more round trip.
//
// A source that stays down for catchUpPatience is skipped: what only it
// holds comes back through its hints and handoff when it returns, as for
// any replica that was down. A source removed from the ring for good
// (dynctl remove) is skipped at once: it will not return. A node's first ring marks partitions
// only when the store is empty and the ring is not the cluster's first:
// a node restarting with its data owned them before (it was caught up then),
// and the founders of a cluster start with nothing to pull.

// catchUpPatience is how long a pull waits for a source that is down.
const catchUpPatience = 30 * time.Second

// catchUpPerRound bounds the pulls (one partition from one source) a round
// makes.
const catchUpPerRound = 64

// readiness is the partitions this node replicates but has not caught up.
type readiness struct {
	mu      sync.Mutex
	ring    *ring.Ring // the ring last looked at (under mu)
	seen    atomic.Pointer[ring.Ring]
	pending map[int]*catchUpState
	started time.Time                // when pending last went from empty to not (for the log)
	marked  int                      // partitions marked since then
	got     pulled                   // what pulls merged since then
	unready atomic.Pointer[[]uint64] // bitset of pending partitions; nil when none
}

type catchUpState struct {
	sources  []string             // nodes to pull from, in order: the replaced ones first
	replaced []string             // the earlier replicas whose places this node took
	pulled   map[string]bool      // sources done (pulled, or skipped after patience)
	down     map[string]time.Time // since when each source has been seen down
	since    time.Time
	got      pulled // what pulls of this partition merged
}

// ownRecord is this node's copy of key as a replica answers a read: while
// the key's partition is catching up, first brought up to date from the
// sources not pulled yet (read-through); a.Behind says it was. It fails
// with msg.ErrNotReady when none of them answers.
func (n *Node) ownRecord(t *Topology, key []byte) (rec []byte, a msg.FetchAnswer, err error) {
	if n.readableKey(t, key) {
		rec, a.Found, err = n.eng.Record(key, nil)
		return rec, a, err
	}
	hash := ring.HashKey(key)
	a.Behind = true
	sources := n.ready.readThrough(t.Ring.Partition(hash))
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout/2)
	defer cancel()
	type answer struct {
		rec   []byte
		found bool
		err   error
	}
	answers := make(chan answer, len(sources))
	asked := 0
	for _, id := range sources {
		if !n.healthy(t, id) {
			continue
		}
		asked++
		go func(addr string) {
			rec, found, err := n.peers.FetchOwn(ctx, addr, key, nil)
			answers <- answer{rec, found, err}
		}(t.Addrs[id])
	}
	answered := 0
	for range asked {
		got := <-answers
		if got.err != nil {
			continue
		}
		answered++
		if got.found {
			if _, err := n.eng.MergeRecord(key, got.rec, kv.DurabilityDefault); err != nil {
				return nil, a, err
			}
		}
	}
	if answered == 0 && len(sources) > 0 {
		n.stats.readsNotReady.Add(1)
		return nil, a, msg.ErrNotReady
	}
	n.stats.readsThrough.Add(1)
	rec, a.Found, err = n.eng.Record(key, nil)
	return rec, a, err
}

// readThrough is whom a read of partition p reads through to: the
// replicas this node replaced that it has not pulled yet (their copies
// stood where its own stands in every quorum: one fetch, where asking
// every earlier and current replica took three or four, each merged and
// written, a quarter of a joiner's CPU in bench-join), or once those are
// pulled, the other sources not pulled yet.
func (rd *readiness) readThrough(p int) []string {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	st := rd.pending[p]
	if st == nil {
		return nil
	}
	if left := st.left(st.replaced); len(left) > 0 {
		return left
	}
	return st.left(st.sources)
}

// awaits reports whether partition p is still to be pulled from id.
func (rd *readiness) awaits(p int, id string) bool {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	st := rd.pending[p]
	return st != nil && slices.Contains(st.sources, id) && !st.pulled[id]
}

// left is the nodes of ids not pulled yet.
func (st *catchUpState) left(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !st.pulled[id] {
			out = append(out, id)
		}
	}
	return out
}

// readable reports whether this node's own copy of key (hash) answers
// reads as it is: it is not catching up the key's partition.
func (n *Node) readable(t *Topology, hash uint64) bool {
	if t.Ring == nil {
		return true
	}
	return n.partitionReadable(t, t.Ring.Partition(hash))
}

// readableKey is readable for key, without hashing it while this node
// catches up no partition (nearly always).
func (n *Node) readableKey(t *Topology, key []byte) bool {
	if t.Ring == nil {
		return true
	}
	if n.ready.seen.Load() != t.Ring {
		n.noteRing(t)
	}
	return n.ready.unready.Load() == nil || n.readable(t, ring.HashKey(key))
}

// partitionReadable reports whether this node is not catching up
// partition p of t's ring.
func (n *Node) partitionReadable(t *Topology, p int) bool {
	if t.Ring == nil {
		return true
	}
	if n.ready.seen.Load() != t.Ring {
		n.noteRing(t)
	}
	set := n.ready.unready.Load()
	return set == nil || (*set)[p/64]&(1<<(p%64)) == 0
}

// NoteTopology tells the node its topology source has a new topology.
// It looks at the ring before any request routes by it, so that it
// compares each ring with the one before it (the watcher, polling, can
// miss a ring that was replaced at once). Call it from the membership
// subscription; the node polls as well.
func (n *Node) NoteTopology() { n.noteRing(n.topo.Topology()) }

// noteRing marks the partitions t's ring gives this node that the ring
// before did not, and forgets those it no longer replicates.
func (n *Node) noteRing(t *Topology) {
	rd := &n.ready
	rd.mu.Lock()
	defer rd.mu.Unlock()
	r := t.Ring
	if r == nil || rd.ring == r {
		return
	}
	prev := rd.ring
	if prev != nil && !r.Replaces(prev) {
		if prev.Version() == r.Version() && prev.Fingerprint() == r.Fingerprint() {
			rd.ring = r // the same ring, another copy
			rd.seen.Store(r)
		}
		return // an older ring, from a request that loaded it before the change
	}
	if prev == nil && n.opts.ReadyRing != nil {
		prev = n.opts.ReadyRing // compare the first ring with the last one caught up
	}
	if rd.pending == nil {
		rd.pending = map[int]*catchUpState{}
	}
	first := prev == nil
	before := len(rd.pending)
	markFirst := first && r.Version() > 1 && n.storeEmpty()
	nrep := min(n.opts.N, r.Len())
	now := time.Now()
	var everyone []string
	if markFirst {
		for _, m := range r.Members() {
			if m.ID != t.Self {
				everyone = append(everyone, m.ID)
			}
		}
	}
	for p := range r.Partitions() {
		owners, err := r.PreferenceList(p, nrep, nil)
		if err != nil || !contains(owners, t.Self) {
			delete(rd.pending, p)
			continue
		}
		var sources, replaced []string
		switch {
		case markFirst:
			// Who held p before this node is not known: ask everyone.
			sources, replaced = everyone, everyone
		case first:
			continue
		default:
			before, err := prev.PreferenceList(p, min(n.opts.N, prev.Len()), nil)
			if err == nil && contains(before, t.Self) {
				continue // replicated it before: caught up then, or still pending
			}
			replaced = replacedOwners(before, owners, t.Self)
			sources = slices.Clone(replaced)
			for _, id := range append(before, owners...) {
				if id != t.Self && !contains(sources, id) {
					sources = append(sources, id)
				}
			}
		}
		if len(sources) == 0 {
			continue
		}
		if st := rd.pending[p]; st != nil {
			for _, id := range sources {
				if !contains(st.sources, id) {
					st.sources = append(st.sources, id)
				}
			}
			for _, id := range replaced {
				if !contains(st.replaced, id) {
					st.replaced = append(st.replaced, id)
				}
			}
			continue
		}
		rd.pending[p] = &catchUpState{sources: sources, replaced: slices.Clone(replaced),
			pulled: map[string]bool{}, down: map[string]time.Time{}, since: now}
	}
	if added := len(rd.pending) - before; added > 0 {
		if before == 0 {
			rd.started, rd.marked, rd.got = now, 0, pulled{}
		}
		rd.marked += added
		n.log.Info("catching up partitions this node became a replica of; reads of them go through to their earlier replicas meanwhile",
			"partitions", added, "ring_version", r.Version())
	}
	rd.ring = r
	rd.publish(r.Partitions())
	rd.seen.Store(r)
	if len(rd.pending) == 0 {
		n.reportReady(r)
	}
}

// replacedOwners is the earlier replicas of a partition that are replicas
// no more: the ones whose places a node that became a replica took. Its
// reads go through to them first (readThrough), and its pulls start with
// them; it still pulls from every earlier and current replica before it
// counts as caught up, for the replaced one may itself have been catching
// up when it was replaced (a join after a join), or be skipped as down.
// When the replica set only grew, it replaced no one: every earlier
// replica stands in.
func replacedOwners(before, after []string, self string) []string {
	var out []string
	for _, id := range before {
		if id != self && !contains(after, id) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		for _, id := range before {
			if id != self {
				out = append(out, id)
			}
		}
	}
	return out
}

// reportReady hands r to Options.OnReady, off the caller's locks: this
// node holds every partition it replicates in r.
func (n *Node) reportReady(r *ring.Ring) {
	if f := n.opts.OnReady; f != nil {
		n.bg.goTask(func() { f(r) })
	}
}

// publish rebuilds the bitset readers check (under mu).
func (rd *readiness) publish(partitions int) {
	if len(rd.pending) == 0 {
		rd.unready.Store(nil)
		return
	}
	set := make([]uint64, (partitions+63)/64)
	for p := range rd.pending {
		set[p/64] |= 1 << (p % 64)
	}
	rd.unready.Store(&set)
}

// storeEmpty reports whether this node holds no record at all.
func (n *Node) storeEmpty() bool {
	empty := true
	n.eng.ScanHashRange(0, 0, func(_, _ []byte) bool {
		empty = false
		return false
	})
	return empty
}

// CatchUp runs one round: up to catchUpPerRound pulls of pending
// partitions from their sources. It returns how many partitions it
// finished.
func (n *Node) CatchUp() int {
	t := n.topo.Topology()
	if t.Ring == nil {
		return 0
	}
	n.noteRing(t)
	type job struct {
		p   int
		src string
		st  *catchUpState
	}
	var jobs []job
	rd := &n.ready
	rd.mu.Lock()
	parts := make([]int, 0, len(rd.pending))
	for p := range rd.pending {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	now := n.bgw.now()
	for _, p := range parts {
		st := rd.pending[p]
		for _, id := range st.sources {
			if st.pulled[id] || len(jobs) == catchUpPerRound {
				continue
			}
			if t.Ring != nil && t.Ring.Removed(id) {
				st.pulled[id] = true // gone for good: the surviving sources are all there is
				continue
			}
			if n.healthy(t, id) {
				delete(st.down, id)
				jobs = append(jobs, job{p, id, st})
				continue
			}
			// Patience runs from when the source was first seen down, not
			// from when the partition was marked: a pull of minutes must
			// not skip a source that was down for one round.
			if _, ok := st.down[id]; !ok {
				st.down[id] = now
			}
			if now.Sub(st.down[id]) > catchUpPatience {
				st.pulled[id] = true // down too long: its hints and handoff bring what it holds
				n.stats.catchUpSkipped.Add(1)
				n.logs.catchUpSkipped.add(n.log, slog.LevelWarn, "partitions caught up without a source that stayed down 30 s, by source", id, 1)
			}
		}
	}
	rd.mu.Unlock()
	busy := map[string]bool{}
	for _, j := range jobs {
		if n.closed.Load() || !n.bgw.catchup.Ready(n.bgw.now()) {
			break // this node's grant is spent: the rest next round
		}
		if busy[j.src] {
			continue
		}
		var got pulled
		res := n.pullCounted(t, j.p, j.src, &got)
		rd.mu.Lock()
		rd.got.records += got.records
		rd.got.bytes += got.bytes
		if rd.pending[j.p] == j.st { // still the same catch-up (not dropped and marked again)
			j.st.got.records += got.records
			j.st.got.bytes += got.bytes
			if res == pullWhole {
				j.st.pulled[j.src] = true
			}
		}
		rd.mu.Unlock()
		switch res {
		case pullBusy:
			busy[j.src] = true
		}
	}
	finished := 0
	rd.mu.Lock()
	for _, p := range parts {
		st := rd.pending[p]
		if st == nil {
			continue
		}
		done := true
		for _, id := range st.sources {
			done = done && st.pulled[id]
		}
		if done {
			delete(rd.pending, p)
			finished++
			n.stats.caughtUp.Add(1)
		}
	}
	if rd.ring != nil {
		rd.publish(rd.ring.Partitions())
	}
	if finished > 0 && len(rd.pending) == 0 {
		n.log.Info("caught up every partition this node replicates", "partitions", rd.marked,
			"took", time.Since(rd.started).Round(time.Millisecond), "records_pulled", n.stats.catchUpRecords.Load())
		if rd.ring != nil {
			n.reportReady(rd.ring)
		}
	}
	rd.mu.Unlock()
	return finished
}

// catchingUp is how many partitions this node has not caught up yet.
func (n *Node) catchingUp() int {
	n.ready.mu.Lock()
	defer n.ready.mu.Unlock()
	return len(n.ready.pending)
}

// CatchUpStatus is one partition this node is catching up: the sources it
// has pulled it from and those it has not, and since when.
type CatchUpStatus struct {
	Partition    int
	Pulled, Left []string
	Since        time.Time
	// Records and Bytes count what its pulls merged so far (records this
	// node lacked or held older).
	Records, Bytes int64
}

// CatchUpProgress is this node's catch-up as a whole: since Started (when
// it last went from no partition to catch up to some), Partitions were
// marked, of which Pending are not caught up yet, and pulls merged
// Records records of Bytes bytes.
type CatchUpProgress struct {
	Started             time.Time
	Partitions, Pending int
	Records, Bytes      int64
}

// Progress reports the catch-up as a whole; Partitions is 0 when none
// was ever needed.
func (n *Node) Progress() CatchUpProgress {
	rd := &n.ready
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return CatchUpProgress{Started: rd.started, Partitions: rd.marked, Pending: len(rd.pending), Records: rd.got.records, Bytes: rd.got.bytes}
}

// CatchingUp lists the partitions this node is catching up, in order.
func (n *Node) CatchingUp() []CatchUpStatus {
	rd := &n.ready
	rd.mu.Lock()
	defer rd.mu.Unlock()
	out := make([]CatchUpStatus, 0, len(rd.pending))
	for p, st := range rd.pending {
		s := CatchUpStatus{Partition: p, Since: st.since, Records: st.got.records, Bytes: st.got.bytes}
		for _, id := range st.sources {
			if st.pulled[id] {
				s.Pulled = append(s.Pulled, id)
			} else {
				s.Left = append(s.Left, id)
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b CatchUpStatus) int { return a.Partition - b.Partition })
	return out
}
