package membership

import "github.com/dynamo-kv/dynamo/ring"

// Member is one node as this node sees it: what it declared in its
// metadata and whether gossip thinks it is up.
type Member struct {
	ID   string
	Zone string
	// Weight is the node's declared capacity. The ring holds the weight
	// the claimant last applied (View.Ring.Member).
	Weight float64
	// InternodeAddr and ClientAddr are the host:port of the node's
	// internode server and memcached front end. Empty for a ring member
	// this node has never heard from.
	InternodeAddr string
	ClientAddr    string
	// GossipAddr is the node's memberlist address.
	GossipAddr string
	// Alive is memberlist's view: the node is alive or merely suspected
	// (suspicion is refuted within a few probe intervals when wrong, and the
	// coordinator has its transport's faster signal for real trouble); a
	// node declared dead, or that left gossip, is not alive. A dead node
	// stays in the ring until it asks to leave.
	Alive bool
	// Leaving is set once the node has asked to be removed from the ring;
	// Drained once, out of it, it says it holds nothing (SetDrained).
	Leaving, Drained bool
	// RingVersion and RingFingerprint identify the ring the node last
	// advertised: equal everywhere once the cluster has converged.
	RingVersion, RingFingerprint uint64
}

// View is an immutable snapshot of the cluster as this node sees it. It
// is shared between goroutines and must not be modified.
type View struct {
	// Ring is the ring this node routes by. It may include members that
	// are not alive, and, while this node is joining, not this node.
	Ring *ring.Ring
	// Members has every node known to gossip or in the ring.
	Members map[string]Member
	// Self is this node's ID.
	Self string

	next chan struct{} // closed when a newer view is published
}

// Member returns the member with the given ID.
func (v *View) Member(id string) (Member, bool) {
	m, ok := v.Members[id]
	return m, ok
}

// Alive reports whether gossip says the node id is alive.
func (v *View) Alive(id string) bool { return v.Members[id].Alive }

// Claimant returns the node that may change the ring: the alive ring
// member with the smallest ID. It is "" when no ring member is alive.
func (v *View) Claimant() string { return claimant(v.Ring, v.Alive) }

// Changed returns a channel that is closed when a newer view is published.
// It never closes after the Membership is shut down.
func (v *View) Changed() <-chan struct{} { return v.next }

func claimant(r *ring.Ring, alive func(string) bool) string {
	if r == nil {
		return ""
	}
	for _, m := range r.Members() { // sorted by ID
		if alive(m.ID) {
			return m.ID
		}
	}
	return ""
}
