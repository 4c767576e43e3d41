package membership

import (
	"maps"
	"slices"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
	"github.com/hashicorp/memberlist"
)

// run is the loop: it owns core and steps on every event and tick.
func (m *Membership) run() {
	defer m.wg.Done()
	tick := time.NewTicker(m.cfg.Timing.Reconcile)
	defer tick.Stop()
	for {
		select {
		case <-m.stopped:
			return
		case <-m.in.kick:
		case <-tick.C:
		}
		m.step(time.Now())
	}
}

// step applies what arrived, derives a ring if this node is the claimant,
// spreads a changed ring, pulls a better one, and publishes the view.
func (m *Membership) step(now time.Time) {
	b := m.in.take()
	m.stats.rejected.Add(b.bad + b.dropped)
	for id, ev := range b.nodes {
		was, known := m.core.peers[id]
		if known && was.alive != ev.alive || !known && ev.alive {
			if ev.alive {
				m.log.Info("member up", "peer", id, "addr", ev.addr)
			} else {
				m.log.Warn("member down", "peer", id, "addr", ev.addr)
			}
		}
		if _, err := m.core.observe(id, ev.alive, ev.addr, ev.meta); err != nil && ev.alive {
			m.log.Warn("a node cannot join the ring", "peer", id, "addr", ev.addr, "err", err)
		}
	}
	for _, raw := range b.rings {
		m.offer(raw)
	}
	m.refreshSelf()
	if next, err := m.core.derive(); err != nil {
		m.log.Error("claimant cannot derive the next ring", "err", err)
	} else if next != nil {
		m.stats.derived.Add(1)
		m.log.Info("claimant derived a ring", "version", next.Version(), "members", next.Len())
	}
	if m.core.ring != m.spreadOf {
		m.spread()
		m.refreshSelf()
	}
	for id := range b.requests {
		m.answer(id)
	}
	if frame := m.state.Load(); frame != nil {
		for id, addr := range m.core.tell {
			m.out.post(id, addr, kindRing, *frame)
		}
	}
	clear(m.core.tell)
	m.pull(now)
	m.publish()
}

func (m *Membership) offer(raw []byte) {
	r, err := ring.Decode(raw)
	if err != nil {
		m.stats.rejected.Add(1)
		m.log.Warn("dropping a ring that does not decode", "err", err)
		return
	}
	switch m.core.offer(r) {
	case offerAdopted:
		m.stats.adopted.Add(1)
		m.log.Info("adopted a ring", "version", r.Version(), "members", r.Len())
		if r.Removed(m.self) {
			m.log.Error("this node was removed from the cluster for good; it must stop, and may rejoin only with an empty data directory under a new ID", "version", r.Version())
		}
	case offerStale, offerDuplicate:
		m.stats.ignored.Add(1)
	case offerMismatch:
		m.stats.otherConfig.Add(1)
		m.log.Warn("ignoring a ring of another configuration", "version", r.Version(),
			"partitions", r.Partitions(), "replicas", r.Config().Replicas,
			"held_partitions", m.core.ring.Partitions(), "held_replicas", m.core.ring.Config().Replicas)
	}
}

// refreshSelf brings this node's own entry and metadata up to date with
// the settings and the ring held, and gossips the metadata if it changed.
func (m *Membership) refreshSelf() {
	m.settings.Lock()
	// A removal the ring has made is asked no more.
	m.settings.removes = slices.DeleteFunc(m.settings.removes, func(id string) bool {
		return m.core.ring != nil && m.core.ring.Removed(id)
	})
	removes := m.settings.removes
	if again := m.core.unapplied(); len(again) > 0 {
		removes = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(removes), again...))))
	}
	meta := nodeMeta{
		intent: m.settings.intent, weight: m.settings.weight, zone: m.settings.zone,
		removes:       encodeRemovals(removes),
		ring:          stampOf(m.core.ring),
		ringConfig:    ringConfigOf(m.core.ring),
		internodeAddr: m.cfg.InternodeAddr, clientAddr: m.cfg.ClientAddr,
	}
	m.settings.Unlock()
	// Removals asked again must not push the metadata over memberlist's
	// limit (it panics): the ones that do not fit wait for the next.
	for len(removes) > 0 && len(meta.appendTo(nil)) > memberlist.MetaMaxSize {
		removes = removes[:len(removes)-1]
		meta.removes = encodeRemovals(removes)
	}
	m.core.setSelf(meta, m.GossipAddr())
	if meta == m.lastMeta {
		return
	}
	m.lastMeta = meta
	b := meta.appendTo(nil)
	m.meta.Store(&b)
	select {
	case m.advertiseCh <- struct{}{}:
	default:
	}
}

// spread serves the new ring to push/pull and sends it to every alive
// peer at once.
func (m *Membership) spread() {
	m.spreadOf = m.core.ring
	frame := ringFrame(m.core.ring)
	m.state.Store(&frame)
	for id, p := range m.core.peers {
		if id != m.self && p.alive {
			m.out.post(id, p.addr, kindRing, frame)
		}
	}
}

// answer sends the ring held to a peer that asked for it.
func (m *Membership) answer(id string) {
	p, ok := m.core.peers[id]
	if frame := m.state.Load(); ok && p.alive && frame != nil {
		m.out.post(id, p.addr, kindRing, *frame)
	}
}

// pull asks the peer with the best ring for it when that ring beats ours.
func (m *Membership) pull(now time.Time) {
	who, ok := m.core.behind()
	if !ok {
		return
	}
	p := m.core.peers[who]
	last := m.lastPull
	if last.from == who && last.want == p.meta.ring && now.Sub(last.at) < m.cfg.Timing.Reconcile {
		return
	}
	m.lastPull = pullRecord{who, p.meta.ring, now}
	m.stats.pulls.Add(1)
	m.out.post(who, p.addr, kindRingRequest, m.request)
}

// publish stores a new View when the ring or any member changed, and
// wakes whoever waits on the previous one.
func (m *Membership) publish() {
	if m.core.ring == nil {
		return // a joiner before its first ring; Start does not return yet
	}
	cur := m.view.Load()
	members := m.core.members()
	if cur != nil && cur.Ring == m.core.ring && maps.Equal(cur.Members, members) {
		return
	}
	m.view.Store(&View{Ring: m.core.ring, Members: members, Self: m.self, next: make(chan struct{})})
	if cur != nil {
		close(cur.next)
	}
}

// advertise gossips metadata changes. UpdateNode waits for the broadcast
// to go out, so it runs here rather than on the loop; changes made while
// it waits coalesce into the next call. A failed update is tried again
// every ProbeInterval until one succeeds: memberlist drops an update
// whose incarnation a concurrent refutation of a suspicion has already
// passed (the refutation carrying the old metadata), and reports only a
// timeout; without a retry the peers kept the old metadata for good (a
// stale ring version, found by make test on a loaded machine).
func (m *Membership) advertise() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stopped:
			return
		case <-m.advertiseCh:
		}
		for failures := 0; ; failures++ {
			err := m.updateNode(m.cfg.Timing.BroadcastTimeout)
			if err == nil {
				break
			}
			if failures == 0 {
				m.log.Warn("gossiping metadata failed; trying again", "err", err, "every", m.cfg.Timing.ProbeInterval)
			}
			select {
			case <-m.stopped:
				return
			case <-time.After(m.cfg.Timing.ProbeInterval):
			}
		}
	}
}

func (m *Membership) sendReliable(to *memberlist.Node, msg []byte) error {
	return m.ml.SendReliable(to, msg)
}

func (m *Membership) sent(err error) {
	if err != nil {
		m.stats.sendFailures.Add(1)
		m.log.Debug("send failed", "err", err)
		return
	}
	m.stats.sends.Add(1)
}
