package membership

import (
	"maps"
	"slices"

	"github.com/dynamo-kv/dynamo/ring"
)

// peer is what this node knows of one node from gossip.
type peer struct {
	meta  nodeMeta
	known bool // meta decoded; a node whose metadata we cannot read is never added to the ring
	alive bool
	addr  string // memberlist host:port
}

// core is the membership state machine: it turns gossip events and rings
// received from peers into the ring this node holds, and, when this node
// is the claimant, derives the next ring. It does no I/O, reads no clock
// and starts no goroutines; one goroutine owns it (Membership.run).
type core struct {
	self  string
	ring  *ring.Ring      // nil only while a joining node has heard no ring
	peers map[string]peer // every node gossip told us of and that is alive or in the ring; self included
	// rejected holds fingerprints of rings refused for another
	// configuration, so that a peer advertising one does not make this node
	// "behind" forever.
	rejected map[uint64]struct{}
	// addrs is the last gossip address heard for every node, kept when
	// prune forgets the node: a member that comes back into the ring
	// after this node stopped hearing from it (a joiner's ring arriving
	// late, a partition) must still be reachable, or the reconnect loop
	// has nothing to dial and the two never meet again.
	addrs map[string]string
	// retired is every ID removed by a ring this node held (Ring.Remove).
	// It outlives the ring: a ring that lacks one (made in a partition,
	// or by the removed node itself, on its old ring) may still win by
	// version, and a claimant then removes the ID again rather than let
	// it back.
	retired map[string]bool
	// tell is the removed nodes gossip reported alive since the last
	// step, with their addresses: they are sent the ring, which tells
	// them they were removed (they are no peers, so nothing else does).
	tell map[string]string
}

func newCore(self string, r *ring.Ring) core {
	c := core{self: self, peers: map[string]peer{}, rejected: map[uint64]struct{}{}, addrs: map[string]string{},
		retired: map[string]bool{}, tell: map[string]string{}}
	c.hold(r)
	return c
}

// hold makes r the ring held and retires the IDs it removed.
func (c *core) hold(r *ring.Ring) {
	c.ring = r
	if r != nil {
		for _, id := range r.RemovedIDs() {
			c.retired[id] = true
		}
	}
}

// offerResult says what offer did with a ring.
type offerResult int

const (
	offerAdopted   offerResult = iota
	offerStale                 // loses to the ring held (older, or same version and larger fingerprint)
	offerDuplicate             // the ring held
	offerMismatch              // another partition count or replication factor
)

// maxRejected bounds the rejected set; it is cleared when full.
const maxRejected = 64

// offer adopts r if it beats the ring held. Adoption is idempotent, and a
// stale or duplicate offer changes nothing.
func (c *core) offer(r *ring.Ring) offerResult {
	cur := stampOf(c.ring)
	switch s := stampOf(r); {
	case c.ring != nil && r.Config() != c.ring.Config():
		if len(c.rejected) >= maxRejected {
			clear(c.rejected)
		}
		c.rejected[s.fingerprint] = struct{}{}
		return offerMismatch
	case s == cur:
		return offerDuplicate
	case !s.beats(cur):
		return offerStale
	}
	c.hold(r)
	c.prune()
	return offerAdopted
}

// observe records a gossip event about node id: alive or not (dead or
// left), at addr, with raw metadata. It reports whether anything changed
// and the metadata decoding error, if any.
func (c *core) observe(id string, alive bool, addr string, raw []byte) (bool, error) {
	if id == c.self {
		return false, nil // this node's entry comes from setSelf
	}
	if c.retired[id] {
		// Removed for good: nothing it says counts, but it is told.
		if alive && addr != "" {
			c.tell[id] = addr
		}
		return false, nil
	}
	old, had := c.peers[id]
	p := peer{alive: alive, addr: addr}
	if addr != "" {
		c.addrs[id] = addr
	}
	meta, err := decodeMeta(raw)
	if err == nil {
		p.meta, p.known = meta, true
	}
	c.peers[id] = p
	c.prune()
	now, has := c.peers[id]
	return had != has || old != now, err
}

// setSelf records this node's own metadata; it is always alive.
func (c *core) setSelf(meta nodeMeta, addr string) {
	c.peers[c.self] = peer{meta: meta, known: true, alive: true, addr: addr}
}

// prune forgets nodes that are neither alive nor in the ring, once they
// said they hold nothing (a member that left and handed everything off).
// Any other node outside the ring may hold records or hints (a left node
// still handing off, a joiner or a left node that took writes as a
// fallback): forgotten while down, it was not asked before a reap, and
// brought the reaped key's older version back when it returned (the
// simulator's seed 67). It stays known, down, until it is back.
//
// A node removed from the ring (Ring.Remove) is forgotten at once, alive
// or not: the operator declared its data gone, and nothing it holds may
// come back.
func (c *core) prune() {
	for id, p := range c.peers {
		switch {
		case id == c.self:
		case c.retired[id]:
			delete(c.peers, id)
			delete(c.addrs, id)
		case !p.alive && !c.inRing(id) && p.known && p.meta.intent == intentDrained:
			delete(c.peers, id)
		}
	}
}

// removedSelf reports whether a ring held here removed this node.
func (c *core) removedSelf() bool { return c.retired[c.self] }

func (c *core) inRing(id string) bool {
	if c.ring == nil {
		return false
	}
	_, ok := c.ring.Member(id)
	return ok
}

func (c *core) alive(id string) bool { return c.peers[id].alive }

// claimant is the alive ring member with the smallest ID, as this node
// sees it.
func (c *core) claimant() string { return claimant(c.ring, c.alive) }

// behind returns the alive peer advertising the best ring that beats the
// one held (the smallest ID among equals), if any.
func (c *core) behind() (string, bool) {
	best, who := stampOf(c.ring), ""
	for id, p := range c.peers {
		if id == c.self || !p.alive || !p.known {
			continue
		}
		if _, bad := c.rejected[p.meta.ring.fingerprint]; bad {
			continue
		}
		if p.meta.ring.beats(best) || who != "" && p.meta.ring == best && id < who {
			best, who = p.meta.ring, id
		}
	}
	return who, who != ""
}

// derive makes the next ring when this node is the claimant and the ring
// differs from what the members ask for: joiners added, leavers removed,
// zones and weights updated, all in one change (version+1). It returns nil
// when there is nothing to do. A claimant that is behind a peer's ring
// waits until it has caught up, so it never builds on a stale ring.
func (c *core) derive() (*ring.Ring, error) {
	if c.ring == nil || c.claimant() != c.self {
		return nil, nil
	}
	if _, ok := c.behind(); ok {
		return nil, nil
	}
	members, removals := c.wanted()
	var next *ring.Ring
	var err error
	if len(removals) > 0 {
		next, err = c.ring.Remove(members, removals...)
	} else {
		next, err = c.ring.Update(members)
	}
	if err != nil || next == c.ring {
		return nil, err
	}
	c.hold(next)
	c.prune()
	return next, nil
}

// wanted is the member set the ring should have, and the IDs to remove
// for good. Nodes that merely fail stay: only an explicit leave or removal
// takes a member out. A node is removed when an alive node asks for it
// (Membership.Remove, see removals). A joiner is added once it
// holds a ring of this cluster's configuration: one that has not heard a
// ring yet, or that will refuse ours (ErrRingConfig), would otherwise be
// left in the ring as a failed member. Changes apply in a fixed
// order (ring members, then joiners by ID) so every claimant derives the
// same ring from the same state.
func (c *core) wanted() ([]ring.Member, []string) {
	cur := c.ring.Members()
	out := make([]ring.Member, 0, len(cur))
	removals := c.removals()
	for _, m := range cur {
		if slices.Contains(removals, m.ID) {
			continue
		}
		p, ok := c.peers[m.ID]
		if ok && p.known {
			if p.meta.intent.leaving() {
				continue
			}
			m.Zone, m.Weight = p.meta.zone, p.meta.weight
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return cur, nil // the last members cannot all leave
	}
	for _, id := range slices.Sorted(maps.Keys(c.peers)) {
		p := c.peers[id]
		if len(out) == c.ring.Partitions() {
			break // a member must own a partition; the rest wait for room
		}
		if p.alive && p.known && p.meta.intent == intentJoin && !c.inRing(id) && p.meta.ringConfig == c.ring.Config() {
			out = append(out, ring.Member{ID: id, Zone: p.meta.zone, Weight: p.meta.weight})
		}
	}
	return out, removals
}

// removals is the IDs alive nodes ask to remove (Membership.Remove, or
// a ring they held removed them: see unapplied) that the ring held has
// not removed, and the retired IDs it lacks, sorted. Whether the node is
// alive no longer matters here: Remove refused a node that was up when
// asked, and one that came back since (restarted on its old disk, or
// cut off and running on) closes itself once it hears.
func (c *core) removals() []string {
	out := c.unapplied()
	for _, p := range c.peers {
		if !p.alive || !p.known || p.meta.removes == "" {
			continue
		}
		for _, id := range p.meta.removals() {
			if id != c.self && !c.ring.Removed(id) && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// unapplied is the retired IDs the ring held does not remove (it won
// over the ring that did), sorted. This node asks for their removal
// again in its metadata, so that whichever node is claimant removes
// them again.
func (c *core) unapplied() []string {
	var out []string
	for id := range c.retired {
		if id != c.self && c.ring != nil && !c.ring.Removed(id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// members builds the Members of a View: every known node, and every ring
// member, known or not, with the last address heard for it.
func (c *core) members() map[string]Member {
	out := make(map[string]Member, len(c.peers))
	for id, p := range c.peers {
		m := Member{ID: id, GossipAddr: p.addr, Alive: p.alive}
		if p.known {
			m.Zone, m.Weight = p.meta.zone, p.meta.weight
			m.InternodeAddr, m.ClientAddr = p.meta.internodeAddr, p.meta.clientAddr
			m.Leaving, m.Drained = p.meta.intent.leaving(), p.meta.intent == intentDrained
			m.RingVersion, m.RingFingerprint = p.meta.ring.version, p.meta.ring.fingerprint
		} else if rm, ok := c.memberOfRing(id); ok {
			m.Zone, m.Weight = rm.Zone, rm.Weight
		}
		out[id] = m
	}
	if c.ring != nil {
		for _, rm := range c.ring.Members() {
			if _, ok := out[rm.ID]; !ok {
				out[rm.ID] = Member{ID: rm.ID, Zone: rm.Zone, Weight: rm.Weight, GossipAddr: c.addrs[rm.ID]}
			}
		}
	}
	return out
}

func (c *core) memberOfRing(id string) (ring.Member, bool) {
	if c.ring == nil {
		return ring.Member{}, false
	}
	return c.ring.Member(id)
}
