package cluster

import (
	"log/slog"
	"slices"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/ring"
)

// Hinted handoff: a fallback replica keeps the record in its own data
// (so it answers reads) and a durable hint naming the intended owner. This
// loop offers hinted records to their owners once they are reachable again,
// removes each hint the owner acknowledged, and lets go of the record when
// no hint is left and this node is not one of the key's own replicas.
//
// Hints name the owners of the ring they were written under. A hint for a
// node that no longer owns the key (it left the ring, or a join or leave
// moved the key) goes to the key's current owners instead: kept, it would
// never be delivered, and would keep the record from being handed off or
// reaped for good; delivered to that node, it would reach a node that may
// let go of it too (two former owners, each holding a hint for the other,
// each dropped its copy after merging into the other: the simulator's seed
// 2 lost 276 acknowledged increments so). And this node lets go of its
// copy only once every current owner holds it, not just the hinted one: a
// joiner that became an owner since the write has no hint of its own.

type hint struct {
	owner string
	key   []byte
}

// DeliverHints runs one round of hint delivery (at most HintBatch hints to
// reachable owners) and returns how many it delivered.
func (n *Node) DeliverHints() int {
	t := n.topo.Topology()
	n.bgw.hints.Left(n.eng.HintsHeld())
	budget := n.bgw.hints.Take(n.opts.HintBatch, n.bgw.now())
	if budget == 0 {
		return 0
	}
	var batch []hint
	err := n.eng.ScanHints(func(owner string, key []byte) bool {
		if owner != t.Self && (n.healthy(t, owner) || !n.ownedBy(t, key, owner)) {
			batch = append(batch, hint{owner, append([]byte(nil), key...)})
		}
		return len(batch) < budget
	})
	n.bgw.hints.Refund(budget - len(batch))
	if err != nil {
		return 0
	}
	// Deliver every hint at the owners' own durability, then make what
	// each owner took as durable as this node's copy may have been (one
	// durable merge per owner: see makeDurable), and only then let go.
	sent, asks := n.sendHints(t, batch)
	failed := map[string]bool{}
	for id, ask := range asks {
		if ask.d != kv.DurabilityDefault && n.mergeTo(t, id, ask.rec, ask.d) != nil {
			failed[id] = true
		}
	}
	delivered := 0
	for _, d := range sent {
		if slices.ContainsFunc(d.to, func(id string) bool { return failed[id] }) {
			n.stats.hintFailures.Add(1)
			n.logs.hintFailures.add(n.log, slog.LevelWarn, "hint deliveries failed, by owner (tried again next round)", d.owner, 1)
			continue // delivered again next round
		}
		if ok, err := n.eng.DeleteHintIf(d.owner, d.key, d.sent); err != nil || !ok {
			continue // a newer write arrived: deliver it next round
		}
		delivered++
		n.stats.hintsDelivered.Add(1)
		n.logs.hintsDelivered.add(n.log, slog.LevelInfo, "hints delivered, by owner", d.owner, 1)
		if d.sent != nil {
			n.releaseIfFallback(t, d.key, d.sent, d.to)
		}
	}
	n.bgw.hints.Done(delivered)
	n.bgw.hints.Left(n.eng.HintsHeld())
	return delivered
}

// sendHints sends each hinted record to its owner, or to the key's owners
// when the owner left the ring, and returns the hints whose receivers all
// took it, and for each receiver a record it took with the durability it
// owes (see transferDurability).
func (n *Node) sendHints(t *Topology, batch []hint) (sent []hintSent, asks map[string]durableAsk) {
	asks = map[string]durableAsk{}
	for _, h := range batch {
		if n.closed.Load() {
			break
		}
		rec, found, err := n.eng.Record(h.key, nil)
		if err != nil {
			continue
		}
		d := hintSent{hint: h}
		switch {
		case found && !n.ownedBy(t, h.key, h.owner):
			// The hinted node no longer owns the key: its current owners
			// get the record instead (all of them).
			owners, err := n.keyOwners(t, h.key)
			if err != nil || !n.allHealthy(t, owners) || !n.pushToAll(t, owners, heldRecord{h.key, rec}) {
				n.stats.hintFailures.Add(1)
				continue
			}
			d.to = owners
		case found:
			if n.mergeTo(t, h.owner, heldRecord{h.key, rec}, kv.DurabilityDefault) != nil {
				n.stats.hintFailures.Add(1)
				continue
			}
			d.to = []string{h.owner}
		}
		if found {
			d.sent = rec // nil: there was no record to deliver
		}
		for rank, id := range d.to {
			ask := durableAsk{heldRecord{h.key, rec}, n.transferDurability(rank)}
			ask.d = max(ask.d, asks[id].d)
			asks[id] = ask
		}
		sent = append(sent, d)
	}
	return sent, asks
}

// hintSent is a hint whose record reached its receivers (to: the owner,
// or the key's owners when the hinted node no longer owns the key).
type hintSent struct {
	hint
	sent []byte
	to   []string
}

// durableAsk is a record a receiver took and how durable it must make
// what it took (see transferDurability).
type durableAsk struct {
	rec heldRecord
	d   kv.Durability
}

// ownedBy reports whether id is one of key's current owners. Without a
// ring every node counts as one: nothing is redirected before the first.
func (n *Node) ownedBy(t *Topology, key []byte, id string) bool {
	if t.Ring == nil || t.Ring.Len() == 0 {
		return true
	}
	owners, err := n.keyOwners(t, key)
	return err == nil && contains(owners, id)
}

// keyOwners is key's top-N owners in the current ring.
func (n *Node) keyOwners(t *Topology, key []byte) ([]string, error) {
	p := t.Ring.Partition(ring.HashKey(key))
	return t.Ring.PreferenceList(p, min(n.opts.N, t.Ring.Len()), nil)
}

func (n *Node) allHealthy(t *Topology, ids []string) bool {
	for _, id := range ids {
		if !n.healthy(t, id) {
			return false
		}
	}
	return true
}

// releaseIfFallback drops a delivered record this node does not own,
// unless it changed meanwhile or other hints still need it. It first makes
// sure every current owner holds it, not only those it was delivered to
// (to): an owner the key gained since the write (a joiner) has no hint of
// its own. When one of them cannot take it now, the record stays, and
// ownership handoff moves it later.
func (n *Node) releaseIfFallback(t *Topology, key, rec []byte, to []string) {
	if t.Ring == nil || t.Ring.Len() == 0 {
		return
	}
	owners, err := n.keyOwners(t, key)
	if err != nil || contains(owners, t.Self) {
		return
	}
	var missing []string
	for _, id := range owners {
		if !contains(to, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		h := heldRecord{key, rec}
		if !n.allHealthy(t, missing) || !n.pushToAll(t, missing, h) || !n.makeDurable(t, missing, h) {
			return
		}
	}
	_, _ = n.eng.DropRecordIf(key, rec) // refuses while any hint names the key
}
