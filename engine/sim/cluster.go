package sim

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dynamo-kv/dynamo/engine/cluster"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/membership"
	"github.com/dynamo-kv/dynamo/engine/node"
	"github.com/dynamo-kv/dynamo/engine/simnet"
)

const (
	gossipPort    = 7946
	internodePort = 7947
	dataDir       = "/data"
)

// simNode is one node's machine: its host on the network, its disk, and
// the node while it runs.
type simNode struct {
	id   string
	host *simnet.Host
	skew atomic.Int64 // clock offset, ns
	// joiner: a node that joins during the faults; like an operator's
	// unit file with -join, it names seeds on every start.
	joiner  bool
	started atomic.Bool // it has run: it holds data and belongs to the cluster
	left    atomic.Bool // it was asked to leave the ring
	removed atomic.Bool // stopped for good and removed from the ring (faultRemove)
	// removing: being removed while it runs (faultRemove's running
	// kind): its own lane's faults no longer apply.
	removing atomic.Bool

	// life is held across a start or a stop, which may take long (a
	// start into a partition waits for its seeds). It is a channel, not a
	// mutex, so that a fault waiting for it is durably blocked and
	// simulated time goes on.
	life chan struct{}
	fs   *vfs.MemFS // under life

	mu    sync.Mutex
	n     *node.Node // nil while down
	epoch int        // bumped whenever the node stops
}

func (sn *simNode) lockLife()   { sn.life <- struct{}{} }
func (sn *simNode) unlockLife() { <-sn.life }

// Cluster is the simulated cluster.
type Cluster struct {
	sc    Scenario
	net   *simnet.Network
	nodes []*simNode
	trace *Trace
	obs   *observer // every engine's changes: dots minted twice, watched keys

	rngMu     sync.Mutex
	rng       *rand.Rand // crash clones
	lastCrash time.Time  // under rngMu; see mayCrash
	// removalErrs is what went wrong with a removal (under rngMu).
	removalErrs []string
}

func newCluster(sc Scenario, trace *Trace, watch []string) *Cluster {
	c := &Cluster{sc: sc, net: simnet.New(sc.Seed), trace: trace, obs: newObserver(trace, watch), rng: rand.New(rand.NewPCG(sc.Seed, 0xc4a5))}
	c.net.SetLatency(baseLatency[0], baseLatency[1])
	for i := range sc.Nodes {
		ip := fmt.Sprintf("10.0.0.%d", i+1)
		c.nodes = append(c.nodes, &simNode{id: fmt.Sprintf("n%d", i+1), host: c.net.Host(ip), fs: vfs.NewCrashableMem(), joiner: i >= sc.Members(), life: make(chan struct{}, 1)})
	}
	return c
}

func (c *Cluster) gossipAddr(i int) string {
	return fmt.Sprintf("%s:%d", c.nodes[i].host.IP(), gossipPort)
}

// start opens node i on its disk. A first member names seeds only at the
// first start (a restart finds its cluster through the peers it saved);
// a joining node names the first members on every start.
func (c *Cluster) start(i int, first bool) error {
	sn := c.nodes[i]
	sn.lockLife()
	defer sn.unlockLife()
	if c.node(i) != nil {
		return nil
	}
	sn.host.Restart()
	tr, err := sn.host.Memberlist(c.gossipAddr(i))
	if err != nil {
		return err
	}
	co := &node.ClusterOptions{
		Membership: membership.Config{
			NodeID:     sn.id,
			GossipAddr: c.gossipAddr(i),
			Transport:  tr,
		},
		Replication: cluster.Options{
			N: c.sc.N, R: c.sc.R, W: c.sc.W,
			DurableReplicas: c.sc.DurableReplicas,
			TraceKey:        c.obs.traceKey(sn.id),
		},
		InternodeAddr: fmt.Sprintf("%s:%d", sn.host.IP(), internodePort),
		Network:       sn.host,
	}
	co.Membership.Ring.Partitions = 64
	if c.sc.LANGossip {
		co.Membership.Timing = membership.LANTiming()
	}
	switch {
	case sn.joiner:
		for j := range c.sc.Members() {
			co.Membership.Seeds = append(co.Membership.Seeds, c.gossipAddr(j))
		}
	case first && i > 0:
		co.Membership.Seeds = []string{c.gossipAddr(0)}
	}
	o := node.TestOptions(dataDir, co)
	o.Engine.FS = sn.fs
	o.Engine.Observer = c.obs.forNode(sn.id)
	o.Engine.Durability = c.sc.Durability
	if c.sc.SyncInterval != 0 {
		o.Engine.SyncInterval = c.sc.SyncInterval
	}
	o.Engine.Now = func() time.Time { return time.Now().Add(time.Duration(sn.skew.Load())) }
	n, err := node.Open(o)
	if err != nil {
		tr.Shutdown()
		return err
	}
	sn.mu.Lock()
	sn.n = n
	sn.mu.Unlock()
	sn.started.Store(true)
	return nil
}

// stop takes node i down. A crash cuts it off the network first (nothing
// it does afterwards reaches anyone), then keeps of its disk only what a
// crash would (synced data, a random part of the rest); a clean stop
// closes the node on its disk as it is.
func (c *Cluster) stop(i int, crash bool) {
	sn := c.nodes[i]
	sn.lockLife()
	defer sn.unlockLife()
	sn.mu.Lock()
	n := sn.n
	sn.n = nil
	sn.epoch++
	sn.mu.Unlock()
	if crash {
		sn.host.Crash()
		c.rngMu.Lock()
		cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: c.rng.IntN(101), RNG: rand.New(rand.NewPCG(c.rng.Uint64(), 1))}
		c.rngMu.Unlock()
		sn.fs = sn.fs.CrashClone(cfg)
	}
	if n == nil {
		return
	}
	if err := n.Close(); err != nil && !crash {
		c.trace.add("%s: close: %v", sn.id, err)
	}
	if !crash {
		sn.host.Crash() // the process is gone: its sockets with it
	}
}

// kv returns node i's KV and its epoch, or ok false while it is down.
func (c *Cluster) kv(i int) (k kv.KV, epoch int, ok bool) {
	sn := c.nodes[i]
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if sn.n == nil {
		return nil, sn.epoch, false
	}
	return sn.n.KV(), sn.epoch, true
}

func (c *Cluster) epoch(i int) int {
	sn := c.nodes[i]
	sn.mu.Lock()
	defer sn.mu.Unlock()
	return sn.epoch
}

// live lists the nodes that have run: the cluster's members and those
// that left it, not the ones yet to join, nor the ones removed for good.
func (c *Cluster) live() []int {
	var out []int
	for i, sn := range c.nodes {
		if sn.started.Load() && !sn.removed.Load() {
			out = append(out, i)
		}
	}
	return out
}

func (c *Cluster) node(i int) *node.Node {
	sn := c.nodes[i]
	sn.mu.Lock()
	defer sn.mu.Unlock()
	return sn.n
}

// closeAll stops every node cleanly, for the end of the bubble.
func (c *Cluster) closeAll() {
	for i := range c.nodes {
		c.stop(i, false)
	}
}
