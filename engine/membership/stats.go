package membership

import "sync/atomic"

// Stats counts what a node did to converge. Counters only grow.
type Stats struct {
	// RingsDerived counts rings this node made as the claimant.
	RingsDerived uint64
	// RingsAdopted counts rings from peers that replaced the one held.
	RingsAdopted uint64
	// RingsIgnored counts rings received that were stale or the one held
	// (direct sends, push/pull and pull answers overlap, so duplicates are
	// normal).
	RingsIgnored uint64
	// RingsOtherConfig counts rings refused for another partition count or
	// replication factor.
	RingsOtherConfig uint64
	// MessagesRejected counts messages that did not parse, rings that did
	// not decode, and rings dropped from a full queue.
	MessagesRejected uint64
	// Pulls counts ring requests sent to a peer advertising a better ring.
	Pulls uint64
	// Sends and SendFailures count reliable sends (rings and requests).
	Sends, SendFailures uint64
	// Conflicts counts node-ID conflicts memberlist reported.
	Conflicts uint64
	// Reconnects counts joins of members gossip had as down that reached
	// them (see Timing.Reconnect).
	Reconnects uint64
	// Reannounces counts push/pulls with the claimant made because the
	// ring had not reflected this node's join, leave, zone or weight for
	// a Timing.Reconnect interval (gossip of the metadata may be lost).
	Reannounces uint64
}

type counters struct {
	derived, adopted, ignored, otherConfig, rejected atomic.Uint64
	pulls, sends, sendFailures, conflicts            atomic.Uint64
	reconnects, reannounces                          atomic.Uint64
}

// Stats returns the node's counters.
func (m *Membership) Stats() Stats {
	c := &m.stats
	return Stats{
		RingsDerived:     c.derived.Load(),
		RingsAdopted:     c.adopted.Load(),
		RingsIgnored:     c.ignored.Load(),
		RingsOtherConfig: c.otherConfig.Load(),
		MessagesRejected: c.rejected.Load(),
		Pulls:            c.pulls.Load(),
		Sends:            c.sends.Load(),
		SendFailures:     c.sendFailures.Load(),
		Conflicts:        c.conflicts.Load(),
		Reconnects:       c.reconnects.Load(),
		Reannounces:      c.reannounces.Load(),
	}
}
