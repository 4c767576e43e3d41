package membership

import (
	"github.com/hashicorp/memberlist"
)

// delegate is every memberlist hook of a Membership. memberlist calls it
// from its own goroutines, some of them holding its node lock, so each
// method only reads atomics or hands a copy to the inbox.
type delegate struct{ m *Membership }

var (
	_ memberlist.Delegate         = (*delegate)(nil)
	_ memberlist.EventDelegate    = (*delegate)(nil)
	_ memberlist.ConflictDelegate = (*delegate)(nil)
	_ memberlist.MergeDelegate    = (*delegate)(nil)
)

// NodeMeta serves the metadata the loop last encoded.
func (d *delegate) NodeMeta(limit int) []byte {
	b := *d.m.meta.Load()
	if len(b) > limit { // cannot happen: Config and SetZone check the size; memberlist would panic
		d.m.log.Error("node metadata exceeds the limit; sending none", "bytes", len(b), "limit", limit)
		return nil
	}
	return b
}

// NotifyMsg receives a message sent with SendReliable.
func (d *delegate) NotifyMsg(b []byte) { d.m.in.message(b) }

// GetBroadcasts: rings go by direct sends and push/pull, never in UDP
// gossip (they outgrow a packet).
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState offers the ring held for a push/pull; nil while a joining
// node has none.
func (d *delegate) LocalState(join bool) []byte {
	if p := d.m.state.Load(); p != nil {
		return *p
	}
	return nil
}

// MergeRemoteState receives a peer's ring from a push/pull.
func (d *delegate) MergeRemoteState(b []byte, join bool) {
	if len(b) > 0 {
		d.m.in.message(b)
	}
}

// NotifyJoin, NotifyUpdate and NotifyLeave report gossip's view of a node.
// memberlist serializes them; the inbox keeps the latest per node.
func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.m.in.node(n, true) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.m.in.node(n, true) }
func (d *delegate) NotifyLeave(n *memberlist.Node)  { d.m.in.node(n, false) }

// NotifyConflict: memberlist saw two addresses for one node name and kept
// the first. When the name is ours this node may be the duplicate; Start
// and Join check.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.m.stats.conflicts.Add(1)
	d.m.log.Error("node ID claimed by two nodes; IDs must be unique", "id", existing.Name, "addr", existing.Address(), "other", other.Address())
	if existing.Name == d.m.self {
		d.m.noteDuplicate(existing.Name, existing.Address(), other.Address())
	}
}

// NotifyMerge vets a join, on both sides: the peers listed must not
// include a node that is alive here under the same ID at another address
// (this node or one of its peers). memberlist would silently keep one of
// the two; refusing the merge makes the duplicate visible to Start and
// Join.
func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if p.State != memberlist.StateAlive && p.State != memberlist.StateSuspect {
			continue
		}
		if here, ok := d.m.aliveAt(p.Name); ok && here != p.Address() {
			return d.m.noteDuplicate(p.Name, here, p.Address())
		}
	}
	return nil
}
