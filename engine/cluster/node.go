package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Node is one member of the cluster as clients and peers see it. It
// implements kv.KV (for the memcached front end) and wire.Handler (for
// peers, via Handler).
type Node struct {
	opts  Options
	hedge hedger // when a read asks the replicas it left out
	eng   *engine.Engine
	topo  TopologySource
	peers peers // replication, reads, hints, anti-entropy
	fwd   peers // forwarded writes (see Options.Forward)

	stats counters
	cond  *condLocks // conditional writes decided here, one at a time per key

	aaeNext   atomic.Uint64 // next partition anti-entropy looks at
	aaeCredit float64       // exchanges owed by the pacing (owned by the loop)
	urgent    struct {      // partitions to compare first, and with whom
		sync.Mutex
		m map[int]urgentMark
	}
	handoffNext  atomic.Uint64 // partition the next handoff round starts at
	reapNext     atomic.Uint64 // partition the next reap round starts at
	pendingReaps struct {      // reaps members missed, by member, asked again each round
		sync.Mutex
		m     map[string][]msg.KeyDigest
		count int
	}
	bgw      background               // the admission controller and its tasks
	hintKick chan struct{}            // a hint round now (a member came back)
	watched  atomic.Pointer[Topology] // the last topology the watcher saw
	ready    readiness                // partitions not caught up yet: no reads from here
	behind   behindMarks              // peers heard catching up a partition: reads go around them
	log      *slog.Logger
	logs     logs
	slow     slowLog // client requests over Options.SlowRequest
	// verifyFailed: when a suspected owner last failed a ping (verify).
	verifyFailed sync.Map

	stop     chan struct{}
	closed   atomic.Bool
	bg       tasks // hint delivery, read repairs, the ends of write rounds
	stopOnce sync.Once
}

var _ kv.KV = (*Node)(nil)

// New returns a node serving eng's data, routing by topo and reaching peers
// through tr. It starts hint delivery; Close stops it.
func New(eng *engine.Engine, topo TopologySource, tr Transport, opts Options) (*Node, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	n := &Node{opts: opts, eng: eng, topo: topo, peers: wirePeers{tr}, fwd: wirePeers{tr}, stop: make(chan struct{}), hintKick: make(chan struct{}, 1), cond: newCondLocks()}
	n.slow.threshold = opts.SlowRequest
	n.urgent.m = map[int]urgentMark{}
	n.log = opts.Logger
	n.bgw = newBackground(opts)
	n.every(opts.BackgroundPeriod, func() { n.bgw.ctl.Tick(n.bgw.now()) })
	if opts.Forward != nil {
		n.fwd = wirePeers{opts.Forward}
	}
	n.everyOrKick(opts.HintInterval, n.hintKick, func() { n.DeliverHints() })
	n.every(logEvery, func() { n.logs.flush(n.log, time.Now()) })
	n.every(opts.HandoffInterval, func() { n.HandOff() })
	n.every(opts.AntiEntropyInterval, n.aaeTick)
	n.every(opts.ReapInterval, func() { n.Reap() })
	n.noteRing(topo.Topology()) // the ring it starts with is its first
	n.every(opts.CatchUpInterval, func() { n.CatchUp() })
	n.watch()
	return n, nil
}

// Close stops background work and waits for it. The engine stays open.
func (n *Node) Close() {
	n.stopOnce.Do(func() {
		n.closed.Store(true)
		close(n.stop)
	})
	n.bg.closeAndWait()
}

// FlushAll implements kv.KV: every alive member flushes.
func (n *Node) FlushAll(delay time.Duration) error {
	t := n.topo.Topology()
	errs := []error{n.eng.FlushAll(delay)}
	for id, addr := range t.Addrs {
		if id == t.Self || !t.Alive[id] {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
		err := n.peers.FlushAll(ctx, addr, delay)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// PeerHealth is this node's view of every member of its topology: gossip's
// liveness and the transport's (false while it suspects the peer). For
// operators and the simulator's explanations.
func (n *Node) PeerHealth() map[string][2]bool {
	t := n.topo.Topology()
	out := map[string][2]bool{}
	for id, alive := range t.Alive {
		if id != t.Self {
			addr := t.Addrs[id]
			out[id] = [2]bool{alive, addr != "" && n.peers.Healthy(addr)}
		}
	}
	return out
}
