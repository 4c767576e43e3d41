package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dynamo-kv/dynamo/engine/admit"
	"github.com/dynamo-kv/dynamo/ring"
)

// Options are the cluster defaults: replication factor and quorums, and
// the coordinator's timeouts.
type Options struct {
	// N is the number of replicas of each key; R and W the replicas that
	// must answer a read and acknowledge a write. R + W > N makes every
	// read quorum overlap every write quorum. Defaults 3, 2, 2 (clamped to
	// the ring's replica count).
	N, R, W int
	// DurableReplicas is how many of a write's replicas (the coordinator
	// first) write it with fsync when the request names no durability; the
	// others use their node's mode. Default 0: every replica uses its node's
	// mode. Dynamo §6.1's "one durable write" is 1.
	DurableReplicas int
	// Timeout bounds a replica request; a replica that does not answer in
	// time counts as failed and its slot goes to the next node of the
	// extended list. Default 1 s.
	Timeout time.Duration
	// SlowRequest is the latency from which a client request coordinated
	// here is logged (at most one line a second, with the number of
	// others since): the replicas asked, each one's answer and when it
	// came. Default 500 ms; negative: never.
	SlowRequest time.Duration
	// RepairWait bounds how long a read waits, after answering, for the
	// slower replicas before it repairs the stale ones. Default 2 s.
	RepairWait time.Duration
	// HintInterval is how often hinted records are offered to their owners;
	// HintBatch bounds the hints tried per round. Defaults 1 s and 1,000.
	HintInterval time.Duration
	HintBatch    int
	// HandoffInterval is how often records of partitions this node no
	// longer replicates are pushed to their owners; HandoffBatch bounds the
	// records per round. Defaults 1 s and 1,000.
	HandoffInterval time.Duration
	HandoffBatch    int
	// Forward, when set, carries forwarded writes on connections of their
	// own. A forwarded write holds a server slot while it waits for its
	// replication; sharing connections with replication lets two nodes
	// forwarding to each other fill each other's slots and stall until
	// timeouts. Default: the replication transport.
	Forward Transport
	// AntiEntropyInterval is the tick of anti-entropy: each tick compares
	// (merkle trees) enough of this node's partitions with another
	// replica's, and repairs what differs, to finish a pass over all of
	// them every AntiEntropyCycle, after the urgent ones (shared with a
	// member that came back). Defaults 100 ms and 2 min; a negative
	// interval turns anti-entropy off.
	AntiEntropyInterval time.Duration
	AntiEntropyCycle    time.Duration
	// AntiEntropyRate is the most records per second this node's regular
	// anti-entropy pass reads (its trees) and takes (differing segments);
	// the admission controller grants between a twentieth of it and all
	// of it, so under load a pass takes longer than AntiEntropyCycle.
	// Default 20,000.
	AntiEntropyRate int
	// ReapInterval is how often this node looks, in the partitions it is
	// first owner of, for dead records (expired, flushed, or tombstones
	// past the engine's TombstoneTTL) that every member agrees may go;
	// ReapBatch bounds the records examined per round. Defaults 1 s and
	// 1,000; negative turns reaping off. The engine must be opened with
	// Replicated, so that it never reaps alone.
	ReapInterval time.Duration
	ReapBatch    int
	// CatchUpInterval is how often this node pulls the partitions it
	// became a replica of from their earlier replicas (it serves no reads
	// of them until it has; see ready.go). Default 200 ms; negative turns
	// the loop off (tests call CatchUp).
	CatchUpInterval time.Duration
	// TransferRate is the most records per second this node reads and
	// moves for catch-up pulls, as the puller and, apart, as a source; the
	// admission controller grants a source between a twentieth of it and
	// all of it, and the puller between N twentieths (its sources' floors
	// together) and all of it. Default 20,000.
	TransferRate int
	// CompactionRate is the most bytes per second the store's compactions
	// write while paced by this node's admission controller (see
	// Node.CompactionPacer); it grants between a twentieth of it and all
	// of it. The store runs them unpaced when its LSM nears a write stall.
	// Default 64 MiB/s.
	CompactionRate int
	// BackgroundTarget is the foreground p99 this node's background work
	// (hint delivery, handoff, urgent anti-entropy, reaping) backs off to
	// protect (package admit). Default 0: twice the node's own quiet p99,
	// at least 2 ms. BackgroundUnthrottled runs that work at its full rate
	// whatever the foreground latency (to compare against).
	BackgroundTarget      time.Duration
	BackgroundUnthrottled bool
	// Queues are the controller's queueing signals (admit.SchedLatencies,
	// admit.RunQueueWait; dynamod sets them, the simulator, whose nodes
	// share a process, does not): a period in which one is over its
	// target backs background work off, on a node with clients or
	// without.
	Queues []admit.Queue
	// ReadyRing is the last ring this node held every partition of (what
	// an earlier run handed OnReady): its first ring is compared with it,
	// so partitions it gained while it was down, or left half pulled when
	// it stopped, are pulled again (see ready.go). Nil: the first ring
	// marks partitions only when the store is empty.
	ReadyRing *ring.Ring
	// OnReady, when set, is called (on a goroutine of its own) with each
	// ring in which this node holds every partition it replicates; persist
	// it for ReadyRing.
	OnReady func(*ring.Ring)
	// Logger receives the node's events: handoff and hint delivery
	// (summed, at most one line per 10 s), partitions caught up after a
	// ring change, anti-entropy repairs, reaps deferred. Default: discarded.
	Logger *slog.Logger
	// TraceKey, when set, is told this node's decisions about a key that
	// the engine's Observer cannot see (a reap round's answers), for the
	// simulator's trace of watched keys. It must be quick.
	TraceKey func(key []byte, what string)
	// BackgroundPeriod is the controller's window. Default 250 ms;
	// negative: no window closes by itself (tests call Tick).
	BackgroundPeriod time.Duration
}

// ErrOptions reports an invalid setting.
var ErrOptions = errors.New("cluster: invalid options")

// EnsureDefaults sets every zero field to its default.
func (o *Options) EnsureDefaults() {
	if o.N == 0 {
		o.N = 3
	}
	if o.R == 0 {
		o.R = min(2, o.N)
	}
	if o.W == 0 {
		o.W = min(2, o.N)
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.RepairWait == 0 {
		o.RepairWait = 2 * time.Second
	}
	if o.HintInterval == 0 {
		o.HintInterval = time.Second
	}
	if o.HintBatch == 0 {
		o.HintBatch = 1000
	}
	if o.HandoffInterval == 0 {
		o.HandoffInterval = time.Second
	}
	if o.HandoffBatch == 0 {
		o.HandoffBatch = 1000
	}
	if o.AntiEntropyInterval == 0 {
		o.AntiEntropyInterval = 100 * time.Millisecond
	}
	if o.AntiEntropyCycle == 0 {
		o.AntiEntropyCycle = 2 * time.Minute
	}
	if o.AntiEntropyRate == 0 {
		o.AntiEntropyRate = 20000
	}
	if o.ReapInterval == 0 {
		o.ReapInterval = time.Second
	}
	if o.ReapBatch == 0 {
		o.ReapBatch = 1000
	}
	if o.CatchUpInterval == 0 {
		o.CatchUpInterval = 200 * time.Millisecond
	}
	if o.SlowRequest == 0 {
		o.SlowRequest = 500 * time.Millisecond
	}
	if o.TransferRate == 0 {
		o.TransferRate = 20000
	}
	if o.CompactionRate == 0 {
		o.CompactionRate = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BackgroundPeriod == 0 {
		o.BackgroundPeriod = admitPeriod
	}
}

// Validate reports the first setting out of range, after EnsureDefaults.
func (o *Options) Validate() error {
	switch {
	case o.N < 1 || o.R < 1 || o.W < 1 || o.R > o.N || o.W > o.N:
		return fmt.Errorf("%w: need 1 ≤ R, W ≤ N (N=%d R=%d W=%d)", ErrOptions, o.N, o.R, o.W)
	case o.DurableReplicas < 0 || o.DurableReplicas > o.N:
		return fmt.Errorf("%w: durable replicas must be between 0 and N", ErrOptions)
	case o.Timeout < 0 || o.RepairWait < 0 || o.HintInterval < 0 || o.HintBatch < 0 || o.HandoffInterval < 0 || o.HandoffBatch < 0 ||
		o.AntiEntropyCycle < 0 || o.ReapBatch < 0 || o.BackgroundTarget < 0 || o.TransferRate < 0 || o.AntiEntropyRate < 0 || o.CompactionRate < 0:
		return fmt.Errorf("%w: durations and sizes must not be negative", ErrOptions)
	}
	return nil
}
