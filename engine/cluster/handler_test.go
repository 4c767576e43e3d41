package cluster

import (
	"context"
	"testing"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
)

// A panic while serving a peer becomes an error for that peer.
func TestHandlerRecoversPanics(t *testing.T) {
	n := &Node{topo: panicTopo{}}
	_, _, err := n.handle(context.Background(), msg.Tree, msg.AppendTree(nil, 0, msg.AntiEntropy), nil)
	if err == nil || n.stats.handlerPanics.Load() != 1 {
		t.Fatalf("err = %v, panics = %d", err, n.stats.handlerPanics.Load())
	}
}

type panicTopo struct{}

func (panicTopo) Topology() *Topology { panic("boom") }
