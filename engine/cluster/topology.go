package cluster

import "github.com/dynamo-kv/dynamo/ring"

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
