package cluster

import "time"

// Watching the membership. When gossip reports a member up again (it was
// down, partitioned away or paused), three things should not wait for
// their own timers: the transport probes it at once instead of at the end
// of its backoff, hints for it go out, and anti-entropy compares the
// partitions this node shares with it ahead of its usual cycle, since
// that member may have missed writes nobody hinted (its own buffered
// copies lost in a crash).

// recoverer is implemented by peers that can be told a peer is back
// (wirePeers, over *wire.Pool.Recover).
type recoverer interface{ Recover(addr string) }

const watchInterval = 100 * time.Millisecond

// watch compares each new topology with the last one. After an unclean
// restart (a new engine incarnation) it also marks every partition
// urgent once the first ring arrives: this node may have lost buffered
// writes that no hint covers.
func (n *Node) watch() {
	var last *Topology
	pendingRecovery := n.eng.Recovered()
	n.every(watchInterval, func() {
		t := n.topo.Topology()
		if t == last {
			return
		}
		n.noteRing(t) // before any read sees the ring: see ready.go
		if pendingRecovery && t.Ring != nil {
			pendingRecovery = false
			n.urgentAll(t)
		}
		n.watched.Store(t)
		prev := last
		last = t
		if prev == nil {
			return
		}
		for id, alive := range t.Alive {
			if !alive || prev.Alive[id] || id == t.Self {
				continue
			}
			n.stats.peersBack.Add(1)
			if addr, ok := t.Addrs[id]; ok {
				for _, p := range []peers{n.peers, n.fwd} {
					if r, ok := p.(recoverer); ok {
						r.Recover(addr)
					}
				}
			}
			n.urgentWith(t, id)
			n.kickHints()
		}
	})
}

// seenAlive is what the watcher last saw gossip say of id (tests wait for
// it to have seen a change).
func (n *Node) seenAlive(id string) bool {
	t := n.watched.Load()
	return t != nil && t.Alive[id]
}

// kickHints runs a hint delivery round soon, without waiting for the
// next tick.
func (n *Node) kickHints() {
	select {
	case n.hintKick <- struct{}{}:
	default:
	}
}
