package cluster

import (
	"context"
	"slices"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
)

// Merges: a record sent to a replica, this node included, and taken there.

// sendMerge delivers a record to one replica (itself included).
func (n *Node) sendMerge(ctx context.Context, t *Topology, id string, m *msg.MergeRequest) error {
	_, err := n.sendMergeDigest(ctx, t, id, m)
	return err
}

// sendMergeDigest is sendMerge returning the digest of the record the
// replica holds afterwards (0 from a replica that did not say).
func (n *Node) sendMergeDigest(ctx context.Context, t *Topology, id string, m *msg.MergeRequest) (uint64, error) {
	if id == t.Self {
		return n.applyMerge(m)
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	return n.peers.Merge(ctx, t.Addrs[id], signed(t, m))
}

// signed is m naming this node as its sender, without touching m: a
// coordinator sends one request to several replicas at once.
func signed(t *Topology, m *msg.MergeRequest) *msg.MergeRequest {
	s := *m
	s.From = t.Self
	return &s
}

// applyMerge is a replica taking a record, and a hint for each owner it
// is owed to (itself excepted). It returns the digest of the record it
// holds afterwards.
func (n *Node) applyMerge(m *msg.MergeRequest) (uint64, error) {
	t := n.topo.Topology()
	self := t.Self
	if m.From != "" && t.Ring != nil && t.Ring.Removed(m.From) {
		n.stats.mergesFromRemovedRefused.Add(1)
		return 0, msg.ErrFromRemoved
	}
	if m.Transfer && !n.ownedBy(t, m.Key, self) {
		n.stats.transfersRefused.Add(1)
		return 0, msg.ErrNotOwner
	}
	owed := m.Owed
	if slices.Contains(owed, self) {
		owed = slices.DeleteFunc(slices.Clone(owed), func(o string) bool { return o == self })
	}
	_, digest, err := n.eng.Merge(m.Key, m.Rec, m.Durability, owed...)
	return digest, err
}
