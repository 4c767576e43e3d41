package cluster

import (
	"context"

	"github.com/dynamo-kv/dynamo/ring"
)

// Hinted handoff: a fallback replica keeps the record in its own data
// (so it answers reads) and a durable hint naming the intended owner. This
// loop offers hinted records to their owners once they are reachable again,
// removes each hint the owner acknowledged, and lets go of the record when
// no hint is left and this node is not one of the key's own replicas.

type hint struct {
	owner string
	key   []byte
}

// DeliverHints runs one round of hint delivery (at most HintBatch hints to
// reachable owners) and returns how many it delivered.
func (n *Node) DeliverHints() int {
	t := n.topo.Topology()
	var batch []hint
	err := n.eng.ScanHints(func(owner string, key []byte) bool {
		if n.healthy(t, owner) && owner != t.Self {
			batch = append(batch, hint{owner, append([]byte(nil), key...)})
		}
		return len(batch) < n.opts.HintBatch
	})
	if err != nil {
		return 0
	}
	delivered := 0
	for _, h := range batch {
		if n.closed.Load() {
			break
		}
		rec, found, err := n.eng.Record(h.key, nil)
		if err != nil {
			continue
		}
		if found {
			m := mergeReq{key: h.key, rec: rec}
			ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
			_, _, err = n.tr.Call(ctx, t.Addrs[h.owner], msgMerge, appendMerge(nil, &m), nil)
			cancel()
			if err != nil {
				n.stats.hintFailures.Add(1)
				continue
			}
		}
		var sent []byte // nil: there was no record to deliver
		if found {
			sent = rec
		}
		if ok, err := n.eng.DeleteHintIf(h.owner, h.key, sent); err != nil || !ok {
			continue // a newer write arrived: deliver it next round
		}
		delivered++
		n.stats.hintsDelivered.Add(1)
		if found {
			n.releaseIfFallback(t, h.key, rec)
		}
	}
	return delivered
}

// releaseIfFallback drops a delivered record this node holds only as a
// fallback, unless it changed meanwhile or other hints still need it.
func (n *Node) releaseIfFallback(t *Topology, key, rec []byte) {
	if t.Ring == nil {
		return
	}
	p := t.Ring.Partition(ring.HashKey(key))
	top, err := t.Ring.PreferenceList(p, min(n.opts.N, t.Ring.Len()), nil)
	if err != nil || contains(top, t.Self) {
		return
	}
	_, _ = n.eng.DropRecordIf(key, rec) // refuses while any hint names the key
}
