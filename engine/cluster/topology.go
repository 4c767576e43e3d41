package cluster

import (
	"context"

	"github.com/dynamo-kv/dynamo/protocol/wire"
	"github.com/dynamo-kv/dynamo/ring"
)

// Topology is what a coordinator routes by: an immutable snapshot of the
// ring and of how to reach its members. Gossip replaces it as a whole.
type Topology struct {
	Ring  *ring.Ring
	Self  string            // this node's member ID
	Addrs map[string]string // member ID → internode address
	Alive map[string]bool   // member ID → gossip's liveness
}

// TopologySource hands out the current Topology; it is called on every
// request, so it must be cheap (an atomic load).
type TopologySource interface {
	Topology() *Topology
}

// Transport sends a request to a peer and reports the peer's health as the
// transport sees it (a peer that just timed out or refused a connection is
// unhealthy at once, before gossip agrees). *wire.Pool implements it.
type Transport interface {
	Call(ctx context.Context, addr string, t wire.MsgType, req, dst []byte) (wire.MsgType, []byte, error)
	Healthy(addr string) bool
}

var _ Transport = (*wire.Pool)(nil)
