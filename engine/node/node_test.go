package node

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/membership"
	"github.com/dynamo-kv/dynamo/protocol/wire/wiretest"
	"github.com/dynamo-kv/dynamo/ring"
)

// lowAddr is a free loopback address below the ephemeral range.
func lowAddr(t *testing.T) string { return wiretest.LowAddr(t) }

type testNode struct {
	id, dir, gossip, internode string
	*Node
}

func openTestNode(t *testing.T, tn *testNode, seeds ...string) {
	t.Helper()
	o := TestOptions(tn.dir, &ClusterOptions{
		Membership:    membership.Config{NodeID: tn.id, GossipAddr: tn.gossip, Seeds: seeds, Ring: ring.Config{Partitions: 64}},
		InternodeAddr: tn.internode,
	})
	n, err := Open(o)
	if err != nil {
		t.Fatalf("open %s: %v", tn.id, err)
	}
	tn.Node = n
	t.Cleanup(func() { n.Close() })
}

// waitUp waits until n's status shows every one of ids up and owning
// partitions: the ring has them all and gossip sees them alive.
func waitUp(t *testing.T, n *Node, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := n.KV().(kv.Admin).Admin([]string{"status"})
		if err != nil {
			t.Fatal(err)
		}
		up := 0
		for _, s := range st {
			for _, id := range ids {
				if s.Name == "member:"+id && strings.HasPrefix(s.Value, "state=up,") && !strings.Contains(s.Value, "partitions=0,") {
					up++
				}
			}
		}
		if up == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("members %v not all up after 60 s: %v", ids, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// putAll writes key at W=3 through n until every replica acknowledges
// it. Gossip can report a member up before this node's transport has
// probed it back (a dial refused while it started leaves it suspect
// until then), and on a loaded machine the first write can come first:
// it failed once with "acknowledged by 1 of 3" while a benchmark ran.
func putAll(t *testing.T, n *testNode, key, value string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := n.KV().Put([]byte(key), &kv.PutRequest{Value: []byte(value), SupersedeAll: true, W: 3})
		if err == nil {
			return
		}
		if !errors.Is(err, kv.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("write of %s through %s at W=3: %v", key, n.id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func value(t *testing.T, db kv.KV, key string, r int) string {
	t.Helper()
	var o kv.Object
	if err := db.Get([]byte(key), &o, kv.ReadOptions{R: r}); err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	w, ok := o.Winner()
	if !ok {
		return ""
	}
	return string(w.Value)
}

// Three nodes form a cluster, all stop, and all restart without seeds: only
// the peers and ring files Open wrote in their data directories can bring
// them together again, with their data intact.
func TestRestartWithoutSeedsRejoinsFromItsFiles(t *testing.T) {
	nodes := make([]*testNode, 3)
	for i := range nodes {
		nodes[i] = &testNode{id: fmt.Sprint("n", i+1), dir: t.TempDir(), gossip: lowAddr(t), internode: lowAddr(t)}
	}
	openTestNode(t, nodes[0])
	openTestNode(t, nodes[1], nodes[0].gossip)
	openTestNode(t, nodes[2], nodes[0].gossip)
	for _, n := range nodes {
		waitUp(t, n.Node, "n1", "n2", "n3")
	}
	putAll(t, nodes[0], "k", "v1")
	if got := value(t, nodes[2].KV(), "k", 3); got != "v1" {
		t.Fatalf("read through n3 at R=3: %q", got)
	}

	for _, n := range nodes {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		openTestNode(t, n) // no seeds
	}
	for _, n := range nodes {
		waitUp(t, n.Node, "n1", "n2", "n3")
	}
	if got := value(t, nodes[0].KV(), "k", 3); got != "v1" {
		t.Fatalf("read through n1 after the restart at R=3: %q", got)
	}
	putAll(t, nodes[0], "k", "v2")
	digests := map[string]bool{}
	for _, n := range nodes {
		st, err := n.KV().(kv.Admin).Admin([]string{"digest", "k"})
		if err != nil || len(st) != 1 || st[0].Value == "none" {
			t.Fatalf("digest on %s: %v %v", n.id, st, err)
		}
		digests[st[0].Value] = true
	}
	if len(digests) != 1 {
		t.Fatalf("replicas differ after a W=3 write: %v", digests)
	}
}

func TestSingleNodeServesTheEngine(t *testing.T) {
	n, err := Open(TestOptions(t.TempDir(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, ok := n.KV().(kv.Admin); ok {
		t.Fatal("a single node takes admin commands")
	}
	if _, err := n.KV().Put([]byte("k"), &kv.PutRequest{Value: []byte("v"), SupersedeAll: true}); err != nil {
		t.Fatal(err)
	}
	if got := value(t, n.KV(), "k", 0); got != "v" {
		t.Fatalf("read %q", got)
	}
	if n.GossipAddr() != "" || n.InternodeAddr() != "" {
		t.Fatal("a single node reports cluster addresses")
	}
}

func TestValidate(t *testing.T) {
	dir := engine.Options{Dir: t.TempDir()}
	member := membership.Config{NodeID: "a"}
	for name, tc := range map[string]struct {
		o    Options
		want error
	}{
		"no node ID":  {Options{Engine: dir, Cluster: &ClusterOptions{}}, ErrOptions},
		"no data dir": {Options{Cluster: &ClusterOptions{Membership: member}}, engine.ErrOptions},
		"R above N":   {Options{Engine: dir, Cluster: &ClusterOptions{Membership: member, Replication: cluster.Options{N: 2, R: 3}}}, cluster.ErrOptions},
		"bad weight":  {Options{Engine: dir, Cluster: &ClusterOptions{Membership: membership.Config{NodeID: "a", Weight: -1}}}, ErrOptions},
	} {
		o := tc.o
		o.EnsureDefaults()
		if err := o.Validate(); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
	}
}

// The ring's replica count is N, whatever the caller put there.
func TestRingReplicasFollowN(t *testing.T) {
	o := Options{Engine: engine.Options{Dir: t.TempDir()}, Cluster: &ClusterOptions{
		Membership:  membership.Config{NodeID: "a", Ring: ring.Config{Replicas: 5}},
		Replication: cluster.Options{N: 2},
	}}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil || o.Cluster.Membership.Ring.Replicas != 2 || !o.Engine.Replicated {
		t.Fatalf("ring replicas %d, engine replicated %v, err %v", o.Cluster.Membership.Ring.Replicas, o.Engine.Replicated, err)
	}
}

// The layers' own defaults discard log lines when they have no logger;
// the node's must reach them first. The coordinator's (slow requests,
// handoff, hints, anti-entropy repairs) were discarded in every dynamod.
func TestEveryLayerLogsToTheNodesLogger(t *testing.T) {
	var buf strings.Builder
	l := slog.New(slog.NewTextHandler(&buf, nil))
	o := Options{Logger: l, Cluster: &ClusterOptions{}}
	o.EnsureDefaults()
	for name, got := range map[string]*slog.Logger{
		"engine": o.Engine.Logger, "cluster": o.Cluster.Replication.Logger, "membership": o.Cluster.Membership.Logger,
	} {
		if got != l {
			t.Errorf("the %s layer logs elsewhere than the node's logger", name)
		}
	}
}
