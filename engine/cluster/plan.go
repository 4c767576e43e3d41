package cluster

import (
	"fmt"
	"slices"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/ring"
)

// Planning: which replicas a request goes to, by the ring and by health.

// target is one replica a request goes to; hintFor names the owner a
// fallback stands in for.
type target struct {
	id      string
	hintFor string
}

// route is where one request for a key goes. plan computes it once per
// request, hashing the key once; everything after uses it.
type route struct {
	hash    uint64   // the key's ring hash (ring.HashKey)
	top     []string // the key's top-N owners, in preference order
	targets []target // the replicas to send to (fallbacks with hints)
	spares  []target // healthy members for later failures
}

// plan picks a key's replicas: the healthy members of its top N, then, for
// each unhealthy one, the next healthy member of the extended list with a
// hint; the remaining healthy members are spares for later failures.
func (n *Node) plan(t *Topology, key []byte) (route, error) {
	r := t.Ring
	if r == nil || r.Len() == 0 {
		return route{}, fmt.Errorf("%w: this node has no ring yet", kv.ErrUnavailable)
	}
	rt := route{hash: ring.HashKey(key)}
	p := r.Partition(rt.hash)
	// The first 2N members are precomputed and cheap; most requests find
	// their N healthy nodes there.
	count := min(r.Len(), 2*n.opts.N)
	list, err := r.PreferenceList(p, count, make([]string, 0, count))
	if err != nil {
		return route{}, err
	}
	if count < r.Len() && n.healthyCount(t, list) < n.opts.N {
		// Many nodes down: walk the whole extended list (O(Q)), so a
		// request fails only when the whole cluster cannot serve it.
		if list, err = r.ExtendedList(p, nil); err != nil {
			return route{}, err
		}
	}
	nTop := min(n.opts.N, len(list))
	rt.top = list[:nTop]
	// At most one target per top-N slot: a healthy owner or its fallback.
	rt.targets = make([]target, 0, nTop)
	var down []string
	for i, id := range list {
		switch {
		case !n.healthy(t, id):
			if i < nTop {
				down = append(down, id)
			}
		case i < nTop:
			rt.targets = append(rt.targets, target{id: id})
		case len(down) > 0:
			rt.targets = append(rt.targets, target{id: id, hintFor: down[0]})
			down = down[1:]
		default:
			rt.spares = append(rt.spares, target{id: id})
		}
	}
	return rt, nil
}

func (n *Node) healthyCount(t *Topology, ids []string) int {
	c := 0
	for _, id := range ids {
		if n.healthy(t, id) {
			c++
		}
	}
	return c
}

// healthy: gossip says alive and the transport has no fresh failure.
func (n *Node) healthy(t *Topology, id string) bool {
	if id == t.Self {
		return true
	}
	addr, ok := t.Addrs[id]
	return ok && t.Alive[id] && n.peers.Healthy(addr)
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// indexOf is the position of the target with the given id, or -1.
func indexOf(targets []target, id string) int {
	for i, tg := range targets {
		if tg.id == id {
			return i
		}
	}
	return -1
}

// firstOwner is the owner the first fallback target stands in for, or the
// first target.
func firstOwner(ts []target) string {
	for _, t := range ts {
		if t.hintFor != "" {
			return t.hintFor
		}
	}
	return ts[0].id
}

// coordinatorRoles splits a write's targets into the coordinator's own
// (self, with the owner it stands in for) and the others. A coordinator
// outside the targets (no owner was reachable) stands in for the first
// owner it displaces, and is no spare.
func coordinatorRoles(selfID string, targets, spares []target) (self target, others, kept []target) {
	self = target{id: selfID}
	others = make([]target, 0, len(targets))
	for _, tg := range targets {
		if tg.id == selfID {
			self = tg
		} else {
			others = append(others, tg)
		}
	}
	if indexOf(targets, selfID) >= 0 || len(targets) == 0 {
		return self, others, spares
	}
	self.hintFor = firstOwner(targets)
	kept = spares[:0:0]
	for _, sp := range spares {
		if sp.id != selfID {
			kept = append(kept, sp)
		}
	}
	return self, others, kept
}

// owedBy is the hint a fallback target keeps: the owner it stands in for.
func owedBy(tg target) []string {
	if tg.hintFor == "" {
		return nil
	}
	return []string{tg.hintFor}
}

// withOwner is owed plus owner (a fallback's own charge), without
// repeating it.
func withOwner(owed []string, owner string) []string {
	if owner == "" || slices.Contains(owed, owner) {
		return owed
	}
	return append(slices.Clone(owed), owner)
}
