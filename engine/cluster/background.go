package cluster

import (
	"time"

	"github.com/dynamo-kv/dynamo/engine/admit"
)

// Background work and the foreground (Dynamo §6.5). Client reads and
// writes coordinated here record their latency; every admitPeriod the
// controller moves each task's rate by it, and each round of a task does
// only the work its grant allows. A task's ceiling is what its options
// allowed before (a batch per interval); its floor a twentieth of that,
// so it always finishes, later.

// admitPeriod is the controller's default window (Options.BackgroundPeriod).
const admitPeriod = 250 * time.Millisecond

type background struct {
	ctl                       *admit.Controller
	hints, handoff, aae, reap *admit.Task
	aaeScan                   *admit.Task      // records the regular anti-entropy pass reads and takes
	catchup, transfer         *admit.Task      // the two ends of catch-up pulls (pull.go)
	compact                   *admit.Task      // bytes the store's compactions write (CompactionPacer)
	now                       func() time.Time // tests replace it
}

func newBackground(o Options) background {
	law := admit.DefaultLaw()
	law.Target = o.BackgroundTarget
	period := o.BackgroundPeriod
	if period <= 0 {
		period = admitPeriod
	}
	b := background{ctl: admit.New(law, period), now: time.Now}
	b.ctl.SetQueueing(o.Queues...)
	// floors is how many twentieths of its ceiling a task keeps under load.
	task := func(name string, batch int, interval time.Duration, floors int) *admit.Task {
		ceiling := float64(batch)
		if interval > 0 {
			ceiling = float64(batch) / interval.Seconds()
		}
		floor := min(ceiling, ceiling*float64(floors)/20)
		if o.BackgroundUnthrottled {
			floor = ceiling
		}
		return b.ctl.Task(name, floor, ceiling, float64(batch))
	}
	b.hints = task("hints", o.HintBatch, o.HintInterval, 1)
	b.handoff = task("handoff", o.HandoffBatch, o.HandoffInterval, 1)
	b.aae = task("aae_urgent", urgentPerTick, o.AntiEntropyInterval, 1)
	b.aaeScan = task("aae", max(1, o.AntiEntropyRate/4), time.Second/4, 1)
	b.reap = task("reap", o.ReapBatch, o.ReapInterval, 1)
	quarter := max(1, o.TransferRate/4) // a quarter second's worth, at least one record
	// The puller's floor is its sources' together: a new replica pulls
	// from up to N of them at once, each granting at least its own floor,
	// and the puller is the node the join is for. At one twentieth, like
	// theirs, the joiner became the slow end whenever its queueing signal
	// held it at the floor: 1,000 records a second, and a 1,000,000-key
	// join in bench-join (750,000 to pull) not done in 600 s.
	b.catchup = task("catchup", quarter, time.Second/4, o.N)
	b.transfer = task("transfer", quarter, time.Second/4, 1)
	b.compact = task("compact", max(1, o.CompactionRate/4), time.Second/4, 1)
	b.compact.FollowLatencyOnly() // a deeper level 0 makes every read dearer
	return b
}

// maxCompactionPause bounds one wait of a paced compaction, so that it
// soon sees a change of rate, or the store deciding it must not be slowed.
const maxCompactionPause = 250 * time.Millisecond

// CompactionPacer paces the store's compactions by this node's admission
// controller (the engine's PaceCompactions takes it): a compaction
// writing faster than the compact task's grant waits for it. The store
// stops pacing on its own when its LSM nears a write stall.
func (n *Node) CompactionPacer() CompactionPacer {
	return CompactionPacer{task: n.bgw.compact, now: n.bgw.now, sleep: time.Sleep}
}

// CompactionPacer is what CompactionPacer returns.
type CompactionPacer struct {
	task  *admit.Task
	now   func() time.Time
	sleep func(time.Duration)
}

// Pace charges bytes a compaction wrote and waits, at most
// maxCompactionPause, for the grant to pay them off.
func (p CompactionPacer) Pace(bytes int64) {
	if d := p.task.Owe(bytes, p.now()); d > 0 {
		p.sleep(min(d, maxCompactionPause))
	}
}

// foreground records one client request's latency.
func (n *Node) foreground(start time.Time) {
	n.bgw.ctl.Foreground.Record(time.Since(start))
}
