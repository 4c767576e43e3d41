package node

import (
	"testing"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
	"github.com/dynamo-kv/dynamo/protocol/metrics"
)

// Every line "stats" shows, on a single node and on a cluster node, is
// exported to Prometheus or left out on purpose (protocol/metrics): a
// stats line added without a metric fails here.
func TestEveryStatsLineHasAMetric(t *testing.T) {
	single, err := Open(TestOptions(t.TempDir(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	member := &testNode{id: "n1", dir: t.TempDir(), gossip: lowAddr(t), internode: lowAddr(t)}
	openTestNode(t, member)
	for name, n := range map[string]*Node{"single node": single, "cluster node": member.Node} {
		lines := memcache.NewExecutor(n.KV(), memcache.Options{}).Stats()
		want := "engine_puts"
		if n == member.Node {
			want = "bg_handoff_rate" // the cluster's and its controller's lines too
		}
		if !hasStat(lines, want) {
			t.Fatalf("%s: no %s among its %d stats lines", name, want, len(lines))
		}
		for _, st := range lines {
			if !metrics.Covers(st.Name) {
				t.Errorf("%s: stats line %q (%s) has no metric: add it to protocol/metrics/known.go, or to its skipped lines",
					name, st.Name, st.Value)
			}
		}
	}
}

func hasStat(lines []kv.Stat, name string) bool {
	for _, st := range lines {
		if st.Name == name {
			return true
		}
	}
	return false
}
