package node

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	iofs "io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster"
	"github.com/dynamo-kv/dynamo/engine/hlc"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/membership"
	"github.com/dynamo-kv/dynamo/engine/record"
	"github.com/dynamo-kv/dynamo/ring"
)

// admin answers the text protocol's "admin WORD [ARGS]" (what dynctl
// sends) on a cluster node.
func (n *Node) admin(args []string) ([]kv.Stat, error) {
	v := n.members.View()
	switch args[0] {
	case "status":
		return status(v), nil
	case "ring":
		return ringStats(v), nil
	case "hints":
		counts := map[string]int{}
		if err := n.eng.ScanHints(func(owner string, _ []byte) bool { counts[owner]++; return true }); err != nil {
			return nil, err
		}
		var out []kv.Stat
		for owner, c := range counts {
			out = append(out, kv.Stat{Name: "hints:" + owner, Value: strconv.Itoa(c)})
		}
		return out, nil
	case "transfers":
		return n.transfers(), nil
	case "digest":
		return n.digests(args[1:])
	case "record":
		return n.record(args[1:])
	case "leave":
		// Remembered first: a node restarted while (or after) leaving stays
		// out of the ring. The intent is set before the answer, so a
		// rejoin that follows at once undoes it.
		if err := n.writeFileAtomic(filepath.Join(n.opts.Engine.Dir, leftFile), nil); err != nil {
			return nil, fmt.Errorf("recording the leave: %w", err)
		}
		if err := n.members.StartLeave(); err != nil {
			n.forgetLeave()
			return nil, err
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := n.members.WaitLeft(ctx); err != nil {
				n.opts.Logger.Warn("the ring without this node has not reached the others yet; the leave stays in effect", "err", err)
				return
			}
			n.opts.Logger.Info("left the ring; handing data off to the new owners")
			n.startDrainWatch()
		}()
		return []kv.Stat{{Name: "leaving", Value: v.Self}}, nil
	case "remove":
		if len(args) != 2 {
			return nil, fmt.Errorf("%w: remove needs one node ID", kv.ErrAdminUsage)
		}
		if err := n.saveRemoval(args[1]); err != nil {
			return nil, err
		}
		if err := n.members.Remove(args[1]); err != nil {
			n.forgetRemovals(nil, args[1])
			if errors.Is(err, membership.ErrClosed) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", kv.ErrAdminUsage, err)
		}
		n.opts.Logger.Warn("asked the claimant to remove a node for good; its partitions will be rebuilt from the surviving replicas", "peer", args[1])
		return []kv.Stat{{Name: "removing", Value: args[1]}}, nil
	case "rejoin":
		if !n.members.Leaving() {
			return nil, fmt.Errorf("%w: %s has not left the ring", kv.ErrAdminUsage, v.Self)
		}
		if err := n.forgetLeave(); err != nil {
			return nil, err
		}
		if err := n.members.Rejoin(); err != nil {
			return nil, err
		}
		n.opts.Logger.Info("asked back into the ring")
		return []kv.Stat{{Name: "rejoining", Value: v.Self}}, nil
	}
	return nil, fmt.Errorf("%w: %q (status, ring, hints, transfers, digest, record, leave, rejoin, remove)", kv.ErrAdminUsage, args[0])
}

// record answers "admin record KEY" with this node's own record of the
// key, decoded: its clock and every version, visible or not. For
// operators and tests looking at why replicas differ.
func (n *Node) record(args []string) ([]kv.Stat, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("%w: record needs one key", kv.ErrAdminUsage)
	}
	raw, found, err := n.eng.Record([]byte(args[0]), nil)
	if err != nil {
		return nil, err
	}
	if !found {
		return []kv.Stat{{Name: "record", Value: "none"}}, nil
	}
	var r record.Record
	if err := record.Decode(&r, raw); err != nil {
		return nil, err
	}
	out := []kv.Stat{{Name: "digest", Value: strconv.FormatUint(engine.Digest(raw), 16)}}
	var clock []string
	for _, e := range r.Clock {
		clock = append(clock, fmt.Sprintf("%x:%d", e.Actor, e.Counter))
	}
	out = append(out, kv.Stat{Name: "clock", Value: strings.Join(clock, ",")})
	for i, s := range r.Siblings {
		kind := "value"
		switch {
		case s.Deleted:
			kind = "tombstone"
		case s.Counter != nil:
			kind = "counter"
		}
		out = append(out, kv.Stat{Name: fmt.Sprintf("sibling:%d", i), Value: fmt.Sprintf(
			"dot=%x:%d,kind=%s,time=%s,expires=%d,bytes=%d", s.Dot.Actor, s.Dot.Counter, kind,
			hlc.Time(s.Timestamp).UTC().Format("15:04:05.000000"), s.Expires, len(s.Value))})
	}
	return out, nil
}

// digests answers "admin digest KEY..." with a 64-bit hash of each key's
// record as this node stores it ("none" when it holds none), read
// locally, with no quorum and no read repair: how a test or an operator
// sees whether the replicas of a key have converged without disturbing
// them.
func (n *Node) digests(keys []string) ([]kv.Stat, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: digest needs at least one key", kv.ErrAdminUsage)
	}
	out := make([]kv.Stat, 0, len(keys))
	for _, k := range keys {
		rec, found, err := n.eng.Record([]byte(k), nil)
		if err != nil {
			return nil, fmt.Errorf("digest %q: %w", k, err)
		}
		v := "none"
		if found {
			v = strconv.FormatUint(engine.Digest(rec), 16)
		}
		out = append(out, kv.Stat{Name: "digest:" + k, Value: v})
	}
	return out, nil
}

func status(v *membership.View) []kv.Stat {
	out := []kv.Stat{{Name: "node", Value: v.Self}, {Name: "claimant", Value: v.Claimant()}}
	owned := map[string]int{}
	replicas := map[string]int{}
	if v.Ring != nil {
		out = append(out,
			kv.Stat{Name: "ring_version", Value: strconv.FormatUint(v.Ring.Version(), 10)},
			kv.Stat{Name: "partitions", Value: strconv.Itoa(v.Ring.Partitions())})
		if ids := v.Ring.RemovedIDs(); len(ids) > 0 {
			out = append(out, kv.Stat{Name: "removed", Value: strings.Join(ids, ",")})
		}
		for _, id := range v.Ring.Owners() {
			owned[id]++
		}
		for _, m := range v.Ring.Members() {
			replicas[m.ID] = len(v.Ring.Replicated(m.ID))
		}
	}
	ids := make([]string, 0, len(v.Members))
	for id := range v.Members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := v.Members[id]
		state := "down"
		switch {
		case m.Drained:
			state = "drained" // left the ring and holds nothing: may be stopped
		case m.Leaving:
			state = "leaving"
		case m.Alive && v.Ring != nil && !inRing(v.Ring, id):
			state = "joining"
		case m.Alive:
			state = "up"
		}
		out = append(out, kv.Stat{Name: "member:" + id, Value: fmt.Sprintf(
			"state=%s,zone=%s,weight=%g,partitions=%d,replicas=%d,client=%s,internode=%s",
			state, m.Zone, m.Weight, owned[id], replicas[id], m.ClientAddr, m.InternodeAddr)})
	}
	return out
}

// ringStats is what a ring-aware client needs: the encoded ring and every
// member's client address.
func ringStats(v *membership.View) []kv.Stat {
	if v.Ring == nil {
		return nil
	}
	out := []kv.Stat{
		{Name: "version", Value: strconv.FormatUint(v.Ring.Version(), 10)},
		{Name: "ring", Value: base64.StdEncoding.EncodeToString(v.Ring.Encode())},
	}
	for _, m := range v.Ring.Members() {
		if mm, ok := v.Members[m.ID]; ok && mm.ClientAddr != "" {
			out = append(out, kv.Stat{Name: "client:" + m.ID, Value: mm.ClientAddr})
		}
	}
	return out
}

func inRing(r *ring.Ring, id string) bool {
	_, ok := r.Member(id)
	return ok
}

// drainCheck is how often a node that left the ring checks whether it
// still holds anything.
const drainCheck = time.Second

// watchDrained tells membership, until the node closes, whether this node
// (out of the ring) still holds a record or a hint: once it holds
// neither, the others may forget it while it is down; before, they wait
// for it, since it could bring back what they reap (membership's prune).
func (n *Node) startDrainWatch() {
	n.drainWatch.Do(func() { go n.watchDrained() })
}

func (n *Node) watchDrained() {
	tick := time.NewTicker(drainCheck)
	defer tick.Stop()
	logged, claimed := false, false
	for {
		drained := n.holdsNothing()
		if drained && !claimed {
			// The drops that emptied this node were buffered: once the
			// others forget it, a crash must not bring them back.
			if err := n.eng.Sync(); err != nil {
				n.opts.Logger.Warn("cannot make this node's last drops durable; it does not say it holds nothing yet", "err", err)
				drained = false
			}
		}
		claimed = drained
		n.members.SetDrained(drained)
		if drained && !logged && n.members.Leaving() {
			logged = true
			n.opts.Logger.Info("left and handed everything off: this node holds no record and no hint, and may be stopped")
		}
		if !n.members.Leaving() {
			logged = false // rejoined: a later leave logs again
		}
		select {
		case <-n.closing:
			return
		case <-tick.C:
		}
	}
}

// holdsNothing reports whether the engine has no record and no hint (the
// hints are counted by the engine; records are looked for, one at most).
func (n *Node) holdsNothing() bool {
	if n.eng.HintsHeld() != 0 {
		return false
	}
	empty := true
	err := n.eng.ScanHashRange(0, 0, func(_, _ []byte) bool { empty = false; return false })
	return err == nil && empty
}

// transfers answers "admin transfers": the partitions this node is
// catching up after a ring change (catching:P = pulled and left sources,
// age) and the rates the controller grants its pulls and its sources,
// and how far its handoff of partitions it no longer replicates has gone
// (records handed off, those the owners already held, and the handoff
// task's current rate).
func (n *Node) transfers() []kv.Stat {
	now := time.Now()
	var out []kv.Stat
	for _, s := range n.coord.CatchingUp() {
		out = append(out, kv.Stat{Name: "catching:" + strconv.Itoa(s.Partition), Value: fmt.Sprintf(
			"pulled=%s,left=%s,age=%s,records=%d,bytes=%d", strings.Join(s.Pulled, "+"), strings.Join(s.Left, "+"),
			now.Sub(s.Since).Round(100*time.Millisecond), s.Records, s.Bytes)})
	}
	out = append(out, catchUpSummary(n.coord.Progress(), now)...)
	for _, st := range n.coord.Stats() {
		switch st.Name {
		case "cluster_partitions_catching_up", "cluster_partitions_caught_up", "cluster_catch_up_records",
			"cluster_catch_up_pulls_busy", "bg_catchup_rate", "bg_transfer_rate",
			"cluster_handed_off", "cluster_handed_off_held", "bg_handoff_rate", "bg_handoff_done", "engine_hints_held":
			out = append(out, st)
		}
	}
	return out
}

// forgetLeave removes the leave marker (leftFile).
func (n *Node) forgetLeave() error {
	if err := n.fs.Remove(filepath.Join(n.opts.Engine.Dir, leftFile)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("forgetting the leave: %w", err)
	}
	return nil
}

// Removal requests outlive a restart of the node that took them (the
// removeFile), as a leave does: the request is state, and membership
// asks for it until the ring makes it. Lost with a crash of that node, a
// dead node stayed in the ring for good, hints for it piled up and
// nothing was reaped (the simulator's seed 177). The file is read once,
// at start (loadRemovals); removeMu guards the copy in memory and orders
// the file's writers, so a view change costs no I/O when none is pending.

// loadRemovals reads the removeFile (none when absent) into memory.
func (n *Node) loadRemovals() []string {
	n.removeMu.Lock()
	defer n.removeMu.Unlock()
	if b, err := n.readFile(filepath.Join(n.opts.Engine.Dir, removeFile)); err == nil {
		n.removals = strings.Fields(string(b))
	}
	return slices.Clone(n.removals)
}

// saveRemoval adds id to the pending removals.
func (n *Node) saveRemoval(id string) error {
	n.removeMu.Lock()
	defer n.removeMu.Unlock()
	if slices.Contains(n.removals, id) {
		return nil
	}
	if err := n.storeRemovals(append(slices.Clone(n.removals), id)); err != nil {
		return fmt.Errorf("recording the removal: %w", err)
	}
	return nil
}

// forgetRemovals drops from the pending removals the IDs r has removed,
// and also the ones given.
func (n *Node) forgetRemovals(r *ring.Ring, also ...string) {
	n.removeMu.Lock()
	defer n.removeMu.Unlock()
	keep := slices.DeleteFunc(slices.Clone(n.removals), func(id string) bool {
		return r != nil && r.Removed(id) || slices.Contains(also, id)
	})
	if len(keep) == len(n.removals) {
		return
	}
	if err := n.storeRemovals(keep); err != nil {
		n.opts.Logger.Error("updating the pending removals", "err", err)
	}
}

// storeRemovals makes ids the pending removals, on disk first (the file
// goes when none is left). Called with removeMu held.
func (n *Node) storeRemovals(ids []string) error {
	path := filepath.Join(n.opts.Engine.Dir, removeFile)
	var err error
	if len(ids) == 0 {
		if err = n.fs.Remove(path); errors.Is(err, iofs.ErrNotExist) {
			err = nil
		}
	} else {
		err = n.writeFileAtomic(path, []byte(strings.Join(ids, "\n")+"\n"))
	}
	if err == nil {
		n.removals = ids
	}
	return err
}

// catchUpSummary is the catch-up as a whole for "admin transfers":
// partitions done of those marked since it began, what the pulls merged,
// the rate since it began, and, once a partition is done, the time left
// at that pace (partitions left × time per partition so far).
func catchUpSummary(p cluster.CatchUpProgress, now time.Time) []kv.Stat {
	if p.Partitions == 0 {
		return nil
	}
	elapsed := now.Sub(p.Started)
	done := p.Partitions - p.Pending
	out := []kv.Stat{
		{Name: "catchup_partitions", Value: fmt.Sprintf("%d/%d", done, p.Partitions)},
		{Name: "catchup_records", Value: strconv.FormatInt(p.Records, 10)},
		{Name: "catchup_bytes", Value: strconv.FormatInt(p.Bytes, 10)},
		{Name: "catchup_elapsed", Value: elapsed.Round(100 * time.Millisecond).String()},
	}
	if s := elapsed.Seconds(); s > 0 {
		out = append(out, kv.Stat{Name: "catchup_records_per_sec", Value: strconv.FormatFloat(float64(p.Records)/s, 'f', 0, 64)})
	}
	if done > 0 && p.Pending > 0 {
		left := time.Duration(float64(elapsed) * float64(p.Pending) / float64(done))
		out = append(out, kv.Stat{Name: "catchup_eta", Value: left.Round(time.Second).String()})
	}
	return out
}
