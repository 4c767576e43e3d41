package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire"
	"github.com/dynamo-kv/dynamo/protocol/wire/wiretest"
	"github.com/dynamo-kv/dynamo/ring"
)

// testCluster runs nodes in one process over real loopback sockets. Each
// node dials through its own wiretest.Network, so a test can cut any
// directed link: node i cannot reach j while net[i] faults j's address.
type testCluster struct {
	t     testing.TB
	nodes []*testNode
	topo  atomic.Pointer[Topology]
	clock *testClock // every engine's wall clock
}

// testClock is an adjustable wall clock shared by a cluster's engines.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

type testNode struct {
	id     string
	addr   string
	eng    *engine.Engine
	node   *Node
	pool   *wire.Pool
	server *wire.Server
	net    *wiretest.Network
	fs     *vfs.MemFS // crashable: see durableCopy
	// ring, when set, is the ring this node routes by instead of the
	// cluster's: gossip has not brought it the same one yet.
	ring atomic.Pointer[ring.Ring]
	// unknown, when set, names nodes this node's gossip has not heard of
	// (it restarted and gossip has not reached it yet): its topology
	// lacks them.
	unknown atomic.Pointer[[]string]
}

type topoFor struct {
	c       *testCluster
	self    string
	own     *atomic.Pointer[ring.Ring]
	unknown *atomic.Pointer[[]string] // nil: none
}

func (s topoFor) Topology() *Topology {
	t := *s.c.topo.Load()
	t.Self = s.self
	if r := s.own.Load(); r != nil {
		t.Ring = r
	}
	if s.unknown != nil && s.unknown.Load() != nil {
		t.Alive, t.Addrs = maps.Clone(t.Alive), maps.Clone(t.Addrs)
		for _, id := range *s.unknown.Load() {
			delete(t.Alive, id)
			delete(t.Addrs, id)
		}
	}
	return &t
}

func newTestCluster(t testing.TB, n int, opts Options) *testCluster {
	t.Helper()
	return newTestClusterQ(t, n, 64, opts)
}

// newTestClusterQ is newTestCluster with a ring of q partitions.
func newTestClusterQ(t testing.TB, n, q int, opts Options) *testCluster {
	t.Helper()
	return newTestClusterWith(t, n, q, opts, nil)
}

// newTestClusterWith is newTestClusterQ with node i's engine keeping its
// records in storage(i) when that is not nil (no crashable disk then, and
// no record cache: every read reaches the storage).
func newTestClusterWith(t testing.TB, n, q int, opts Options, storage func(i int) engine.Storage) *testCluster {
	t.Helper()
	c := &testCluster{t: t, clock: &testClock{}}
	var members []ring.Member
	listeners := make([]net.Listener, n)
	addrs := map[string]string{}
	alive := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("n%d", i+1)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners[i] = l
		addrs[id] = l.Addr().String()
		alive[id] = true
		members = append(members, ring.Member{ID: id, Weight: 1})
	}
	r, err := ring.New(ring.Config{Partitions: q, Replicas: min(opts.N, n)}, members)
	if err != nil {
		t.Fatal(err)
	}
	c.topo.Store(&Topology{Ring: r, Addrs: addrs, Alive: alive})
	if opts.Timeout == 0 {
		opts.Timeout = 300 * time.Millisecond
	}
	if opts.RepairWait == 0 {
		opts.RepairWait = 500 * time.Millisecond
	}
	if opts.HintInterval == 0 {
		opts.HintInterval = time.Hour // tests call DeliverHints themselves
	}
	if opts.HandoffInterval == 0 {
		opts.HandoffInterval = time.Hour // and HandOff
	}
	if opts.AntiEntropyInterval == 0 {
		opts.AntiEntropyInterval = -1 // and AntiEntropy
	}
	if opts.ReapInterval == 0 {
		opts.ReapInterval = -1 // and Reap
	}
	if opts.CatchUpInterval == 0 {
		opts.CatchUpInterval = -1 // and CatchUp
	}
	for i := range n {
		id := members[i].ID
		tn := &testNode{id: id, addr: addrs[id], net: wiretest.NewNetwork(uint64(i + 1)), fs: vfs.NewCrashableMem()}
		// No periodic fsync: what is durable is what a write asked for.
		eo := engine.Options{Dir: "db", FS: tn.fs, Durability: kv.Buffered,
			SyncInterval: -1, Replicated: true, TombstoneTTL: time.Minute, Now: c.clock.Now}
		if storage != nil {
			if st := storage(i); st != nil {
				eo.Dir, eo.FS, eo.Storage, eo.RecordCacheBytes = "", nil, st, -1
			}
		}
		tn.eng, err = engine.Open(eo)
		if err != nil {
			t.Fatal(err)
		}
		tn.pool, err = wire.NewPool(wire.Options{Dial: tn.net.Dialer(nil), DialTimeout: 200 * time.Millisecond,
			RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		tn.node, err = New(tn.eng, topoFor{c, id, &tn.ring, &tn.unknown}, tn.pool, opts)
		if err != nil {
			t.Fatal(err)
		}
		tn.server, err = wire.NewServer(tn.node.Handler(), wire.ServerOptions{Types: ServerTypes(), Inline: tn.node.Inline})
		if err != nil {
			t.Fatal(err)
		}
		go tn.server.Serve(listeners[i])
		c.nodes = append(c.nodes, tn)
	}
	t.Cleanup(c.close)
	return c
}

func (c *testCluster) close() {
	for _, tn := range c.nodes {
		tn.node.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		tn.server.Shutdown(ctx)
		cancel()
		tn.pool.Close()
		tn.eng.Close()
	}
}

// cut makes the directed links between the two groups black holes, both
// ways (a network partition); heal undoes every cut.
func (c *testCluster) cut(a, b []int) {
	for _, i := range a {
		for _, j := range b {
			c.nodes[i].net.Set(c.nodes[j].addr, wiretest.Fault{BlackHole: true})
			c.nodes[j].net.Set(c.nodes[i].addr, wiretest.Fault{BlackHole: true})
		}
	}
}

// leaveRing takes node i out of the ring (addresses and health
// unchanged), as an operator's leave does.
func (c *testCluster) leaveRing(i int) {
	t := *c.topo.Load()
	r, err := t.Ring.Leave(c.nodes[i].id)
	if err != nil {
		c.t.Fatal(err)
	}
	t.Ring = r
	c.topo.Store(&t)
	c.noteTopology()
}

// durableCopy reports whether node i would still hold key after a power
// cut now: it opens an engine on a crash clone of the node's disk that
// keeps only what was synced.
func (c *testCluster) durableCopy(i int, key string) bool {
	c.t.Helper()
	e, err := engine.Open(engine.Options{Dir: "db", FS: c.nodes[i].fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}),
		Replicated: true, ReapInterval: time.Hour})
	if err != nil {
		c.t.Fatal(err)
	}
	defer e.Close()
	_, found, err := e.Record([]byte(key), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return found
}

// durableValues is what node i's own replica of key would read after a
// power cut now (see durableCopy): its live values, "<deleted>" for a
// tombstone.
func (c *testCluster) durableValues(i int, key string) map[string]bool {
	c.t.Helper()
	e, err := engine.Open(engine.Options{Dir: "db", FS: c.nodes[i].fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}),
		Replicated: true, ReapInterval: time.Hour, TombstoneTTL: time.Minute, Now: c.clock.Now})
	if err != nil {
		c.t.Fatal(err)
	}
	defer e.Close()
	var o kv.Object
	if err := e.Get([]byte(key), &o, kv.ReadOptions{}); err != nil {
		c.t.Fatal(err)
	}
	return values(&o)
}

// setAlive changes what gossip says of node i.
func (c *testCluster) setAlive(i int, alive bool) {
	t := *c.topo.Load()
	t.Alive = maps.Clone(t.Alive)
	t.Alive[c.nodes[i].id] = alive
	c.topo.Store(&t)
}

func (c *testCluster) heal() {
	for _, x := range c.nodes {
		for _, y := range c.nodes {
			x.net.Heal(y.addr)
		}
	}
	// Let the pools' probes find their peers again.
	deadline := time.Now().Add(5 * time.Second)
	for _, x := range c.nodes {
		for _, y := range c.nodes {
			for x != y && !x.pool.Healthy(y.addr) && time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				x.pool.Call(ctx, y.addr, wire.TypePing, nil, nil)
				cancel()
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
}

// owners returns the indexes of key's top-N nodes, in preference order,
// and of the others.
func (c *testCluster) owners(key string, n int) (top, rest []int) {
	t := c.topo.Load()
	ids, err := t.Ring.PreferenceList(t.Ring.Partition(ring.HashKey([]byte(key))), t.Ring.Len(), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for i, id := range ids {
		var idx int
		fmt.Sscanf(id, "n%d", &idx)
		if i < n {
			top = append(top, idx-1)
		} else {
			rest = append(rest, idx-1)
		}
	}
	return top, rest
}

func (tn *testNode) put(t *testing.T, key string, req kv.PutRequest) (kv.PutResult, error) {
	t.Helper()
	return tn.node.Put([]byte(key), &req)
}

func (tn *testNode) get(t *testing.T, key string) (*kv.Object, error) {
	t.Helper()
	var o kv.Object
	err := tn.node.Get([]byte(key), &o, kv.ReadOptions{})
	return &o, err
}

// local reads the node's own replica, bypassing coordination.
func (tn *testNode) local(t *testing.T, key string) map[string]bool {
	t.Helper()
	var o kv.Object
	if err := tn.eng.Get([]byte(key), &o, kv.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	return values(&o)
}

func values(o *kv.Object) map[string]bool {
	m := map[string]bool{}
	for _, s := range o.Siblings {
		if s.Deleted {
			m["<deleted>"] = true
		} else {
			m[string(s.Value)] = true
		}
	}
	return m
}

func set(v string) kv.PutRequest {
	return kv.PutRequest{Value: []byte(v), SupersedeAll: true}
}

func isUnavailable(err error) bool { return errors.Is(err, kv.ErrUnavailable) }

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
