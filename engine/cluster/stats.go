package cluster

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

type counters struct {
	reads, writes, forwarded, unavailable atomic.Uint64
	lateForwards                          atomic.Uint64 // forwarded writes refused: past their deadline
	readRepairs, readRepairFailures       atomic.Uint64
	readDigests, readDigestMismatches     atomic.Uint64
	asyncFailures, mergesServed           atomic.Uint64
	hintsDelivered, hintFailures          atomic.Uint64
	handedOff                             atomic.Uint64
	transfersRefused                      atomic.Uint64 // transfers refused: this node does not own the key
	mergesFromRemovedRefused              atomic.Uint64 // merges refused: their sender was removed from the ring
	caughtUp, catchUpSkipped              atomic.Uint64 // partitions caught up; sources skipped (down too long)
	catchUpRecords, readsNotReady         atomic.Uint64 // records pulled; reads refused while catching up
	readsThrough                          atomic.Uint64 // reads answered through a partition's earlier replicas
	readsAroundBehind                     atomic.Uint64 // reads that left out a replica heard catching up (behind.go)
	readHedges                            atomic.Uint64 // replicas left out that a slow read asked after all
	pullsBusy, servesBusy                 atomic.Uint64 // catch-up pulls a source refused, and this node refused, for want of grant
	aaeNotReady                           atomic.Uint64 // exchanges a peer refused: it is catching the partition up
	handedOffHeld                         atomic.Uint64 // records handed off without sending: every owner held them
	handoffsWaited                        atomic.Uint64 // handoff batches put off: an owner is catching up the partition
	handoffSegmentsHeld                   atomic.Uint64 // merkle segments handed off whole: every owner's leaf matched
	handoffScans                          atomic.Uint64 // segments handoff read, each found not empty in this node's tree
	verified                              atomic.Uint64 // suspected owners that answered a ping before a conditional write
	forwardsWaitedOut                     atomic.Uint64 // forwards that failed maybe delivered, waited out before moving on
	aaeRounds, aaeSegments, aaeRepaired   atomic.Uint64
	aaeDeferred                           atomic.Uint64 // anti-entropy ticks that left exchanges for later: the aae grant was spent
	handlerPanics                         atomic.Uint64
	conditional                           atomic.Uint64 // conditional writes decided here
	reapRounds, reaped, reapDeferred      atomic.Uint64
	reapRepairs                           atomic.Uint64 // dead keys repaired because a member refused to reap them
	reapUnasked                           atomic.Uint64 // reap checks refused: the asker did not ask a node this one knows of
	peersBack                             atomic.Uint64 // members seen coming back up
	writeRepairs                          atomic.Uint64 // writes that found replicas holding more than the coordinator
}

// Stats implements kv.KV: the local engine's counters, then the
// coordinator's.
func (n *Node) Stats() []kv.Stat {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	t := n.topo.Topology()
	members, alive := 0, 0
	var version uint64
	if t.Ring != nil {
		members = t.Ring.Len()
		version = t.Ring.Version()
		for _, m := range t.Ring.Members() {
			if n.healthy(t, m.ID) {
				alive++
			}
		}
	}
	out := append(n.eng.Stats(), n.bgw.ctl.Stats(time.Now())...)
	return append(out,
		kv.Stat{Name: "cluster_node_id", Value: t.Self},
		kv.Stat{Name: "cluster_ring_version", Value: u(version)},
		kv.Stat{Name: "cluster_members", Value: strconv.Itoa(members)},
		kv.Stat{Name: "cluster_members_reachable", Value: strconv.Itoa(alive)},
		kv.Stat{Name: "cluster_n", Value: strconv.Itoa(n.opts.N)},
		kv.Stat{Name: "cluster_r", Value: strconv.Itoa(n.opts.R)},
		kv.Stat{Name: "cluster_w", Value: strconv.Itoa(n.opts.W)},
		kv.Stat{Name: "cluster_reads", Value: u(n.stats.reads.Load())},
		kv.Stat{Name: "cluster_writes_coordinated", Value: u(n.stats.writes.Load())},
		kv.Stat{Name: "cluster_writes_forwarded", Value: u(n.stats.forwarded.Load())},
		kv.Stat{Name: "cluster_late_forwards_refused", Value: u(n.stats.lateForwards.Load())},
		kv.Stat{Name: "cluster_forwards_waited_out", Value: u(n.stats.forwardsWaitedOut.Load())},
		kv.Stat{Name: "cluster_unavailable", Value: u(n.stats.unavailable.Load())},
		kv.Stat{Name: "cluster_read_repairs", Value: u(n.stats.readRepairs.Load())},
		kv.Stat{Name: "cluster_read_repair_failures", Value: u(n.stats.readRepairFailures.Load())},
		kv.Stat{Name: "cluster_read_digests", Value: u(n.stats.readDigests.Load())},
		kv.Stat{Name: "cluster_read_digest_mismatches", Value: u(n.stats.readDigestMismatches.Load())},
		kv.Stat{Name: "cluster_async_replication_failures", Value: u(n.stats.asyncFailures.Load())},
		kv.Stat{Name: "cluster_merges_served", Value: u(n.stats.mergesServed.Load())},
		kv.Stat{Name: "cluster_hints_delivered", Value: u(n.stats.hintsDelivered.Load())},
		kv.Stat{Name: "cluster_hint_failures", Value: u(n.stats.hintFailures.Load())},
		kv.Stat{Name: "cluster_handed_off", Value: u(n.stats.handedOff.Load())},
		kv.Stat{Name: "cluster_transfers_refused", Value: u(n.stats.transfersRefused.Load())},
		kv.Stat{Name: "cluster_merges_from_removed_refused", Value: u(n.stats.mergesFromRemovedRefused.Load())},
		kv.Stat{Name: "cluster_partitions_catching_up", Value: strconv.Itoa(n.catchingUp())},
		kv.Stat{Name: "cluster_partitions_caught_up", Value: u(n.stats.caughtUp.Load())},
		kv.Stat{Name: "cluster_catch_up_sources_skipped", Value: u(n.stats.catchUpSkipped.Load())},
		kv.Stat{Name: "cluster_catch_up_records", Value: u(n.stats.catchUpRecords.Load())},
		kv.Stat{Name: "cluster_reads_through", Value: u(n.stats.readsThrough.Load())},
		kv.Stat{Name: "cluster_reads_around_catching_up", Value: u(n.stats.readsAroundBehind.Load())},
		kv.Stat{Name: "cluster_read_hedges", Value: u(n.stats.readHedges.Load())},
		kv.Stat{Name: "cluster_read_hedge_delay_us", Value: u(uint64(n.hedge.current(n.opts.Timeout).Microseconds()))},
		kv.Stat{Name: "cluster_catch_up_pulls_busy", Value: u(n.stats.pullsBusy.Load())},
		kv.Stat{Name: "cluster_catch_up_serves_refused", Value: u(n.stats.servesBusy.Load())},
		kv.Stat{Name: "cluster_aae_refused_catching_up", Value: u(n.stats.aaeNotReady.Load())},
		kv.Stat{Name: "cluster_handed_off_held", Value: u(n.stats.handedOffHeld.Load())},
		kv.Stat{Name: "cluster_handoffs_waiting_catch_up", Value: u(n.stats.handoffsWaited.Load())},
		kv.Stat{Name: "cluster_handoff_segments_held", Value: u(n.stats.handoffSegmentsHeld.Load())},
		kv.Stat{Name: "cluster_handoff_scans", Value: u(n.stats.handoffScans.Load())},
		kv.Stat{Name: "cluster_suspects_verified", Value: u(n.stats.verified.Load())},
		kv.Stat{Name: "cluster_reads_refused_catching_up", Value: u(n.stats.readsNotReady.Load())},
		kv.Stat{Name: "cluster_aae_exchanges", Value: u(n.stats.aaeRounds.Load())},
		kv.Stat{Name: "cluster_aae_deferred", Value: u(n.stats.aaeDeferred.Load())},
		kv.Stat{Name: "cluster_aae_segments_differing", Value: u(n.stats.aaeSegments.Load())},
		kv.Stat{Name: "cluster_aae_keys_repaired", Value: u(n.stats.aaeRepaired.Load())},
		kv.Stat{Name: "cluster_handler_panics", Value: u(n.stats.handlerPanics.Load())},
		kv.Stat{Name: "cluster_conditional_writes_decided", Value: u(n.stats.conditional.Load())},
		kv.Stat{Name: "cluster_reap_rounds", Value: u(n.stats.reapRounds.Load())},
		kv.Stat{Name: "cluster_reaped", Value: u(n.stats.reaped.Load())},
		kv.Stat{Name: "cluster_reap_deferred", Value: u(n.stats.reapDeferred.Load())},
		kv.Stat{Name: "cluster_reap_repairs", Value: u(n.stats.reapRepairs.Load())},
		kv.Stat{Name: "cluster_reap_checks_refused_unasked", Value: u(n.stats.reapUnasked.Load())},
		kv.Stat{Name: "cluster_peers_back", Value: u(n.stats.peersBack.Load())},
		kv.Stat{Name: "cluster_write_repairs", Value: u(n.stats.writeRepairs.Load())},
	)
}
