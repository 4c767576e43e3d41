package admit

import (
	"strconv"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Controller is one node's admission controller. The node records every
// foreground request in Foreground, calls Tick every period, and each
// background task takes its work from its Task.
type Controller struct {
	Foreground Histogram

	mu     sync.Mutex
	law    Law
	period time.Duration
	prev   Snapshot
	last   Window
	target time.Duration
	quiet  quietFloor
	// stretched counts the periods the open window has been stretched
	// for want of requests.
	stretched int
	tasks     []*Task

	// queues are the queueing signals (SetQueueing), judged over each
	// window; delays their last readings.
	queues   []Queue
	delays   []time.Duration
	backoffs [2]uint64 // by cause: foreground latency, queueing
}

// New returns a controller that moves rates once per period by law.
func New(law Law, period time.Duration) *Controller {
	c := &Controller{law: law, period: period}
	c.target = c.targetNow()
	return c
}

// SetQueueing gives the controller its queueing signals (SchedLatencies
// and RunQueueWait in a real process; none in the simulator, whose nodes
// share one). Each is read when a window closes, over that window; one
// over its target backs every task off.
func (c *Controller) SetQueueing(qs ...Queue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queues = nil
	for _, q := range qs {
		if q.Read != nil && q.Target > 0 {
			c.queues = append(c.queues, q)
		}
	}
	c.delays = make([]time.Duration, len(c.queues))
}

// FollowLatencyOnly makes t back off for its node's foreground latency
// and not for its queueing: for work whose delay costs the foreground
// more than it saves. A store's compactions held at their floor by the
// run-queue signal let a joiner's level 0 grow to 73-115 files while it
// took 3,000 records a second; when it began serving reads, every node's
// run-queue wait went from about 150 to 500-690 us and the clients'
// p99.9 of the 1,000,000-key join to 306 ms.
func (t *Task) FollowLatencyOnly() {
	t.mu.Lock()
	t.latencyOnly = true
	t.mu.Unlock()
}

// Task registers a background task: rates in work units per second,
// never below floor nor above ceiling; it starts at the ceiling (a quiet
// node does its background work at once) and backs off from there. It
// holds at most burst units of unused grant (a round's worth: a task that
// runs a round a second takes its batch at once).
func (c *Controller) Task(name string, floor, ceiling, burst float64) *Task {
	c.mu.Lock()
	defer c.mu.Unlock()
	floor = max(floor, 0)
	ceiling = max(ceiling, floor)
	t := &Task{name: name, floor: floor, ceiling: ceiling, rate: ceiling, burst: max(burst, 1), left: -1}
	t.tokens = t.burst
	c.tasks = append(c.tasks, t)
	return t
}

// Tick closes a window at now: it reads the foreground latency since the
// last tick and moves every task's rate. A window with fewer requests than
// the law's MinSamples stays open, up to maxStretch periods, so that a
// node serving a few hundred requests a second is judged over a longer
// window rather than never: at 250 ms and 200 samples, a node below 800
// requests a second had every window count as quiet, and every task
// climbed to its ceiling however slow its clients were (bench-join at
// 1,000,000 keys: about 400 to 700 requests a second per node).
func (c *Controller) Tick(now time.Time) {
	var cur Snapshot
	c.Foreground.Snapshot(&cur)
	c.mu.Lock()
	defer c.mu.Unlock()
	w := Between(&c.prev, &cur)
	if w.Count < c.law.MinSamples && c.stretched < maxStretch {
		c.stretched++
		return
	}
	c.stretched = 0
	c.prev, c.last = cur, w
	if w.Count >= c.law.MinSamples {
		c.quiet.add(w.P99)
	}
	c.target = c.targetNow()
	// Queueing is judged over the same window, so that each window moves
	// the rates once, up or down: judged every period while a quiet
	// node's window stretched to eight, one noisy period in eight held a
	// task near a tenth of its ceiling (r = r/2 + Step).
	queued := c.judgeQueueing()
	switch {
	case c.law.Breached(w, c.target):
		c.move(now, true, 0)
	case queued:
		c.move(now, true, 1)
	default:
		c.move(now, false, 0)
	}
}

// judgeQueueing reads every queueing signal over the window closing now
// and reports whether one was over its target (under mu).
func (c *Controller) judgeQueueing() bool {
	over := false
	for i, q := range c.queues {
		d, ok := q.Read()
		if !ok {
			c.delays[i] = 0
			continue
		}
		c.delays[i] = d
		over = over || d > q.Target
	}
	return over
}

// move steps every task's rate once, down for a breach by cause (0
// foreground latency, 1 queueing), up otherwise (under mu).
func (c *Controller) move(now time.Time, breached bool, cause int) {
	if breached {
		c.backoffs[cause]++
	}
	for _, t := range c.tasks {
		t.mu.Lock()
		down := breached && (cause == 0 || !t.latencyOnly)
		t.rate = c.law.Next(t.rate, t.floor, t.ceiling, down)
		if down {
			t.backedOff = now
		}
		t.mu.Unlock()
	}
}

func (c *Controller) targetNow() time.Duration {
	if c.law.Target > 0 {
		return c.law.Target
	}
	q, ok := c.quiet.min()
	if !ok {
		return c.law.MinTarget
	}
	return max(c.law.MinTarget, time.Duration(c.law.Factor*float64(q)))
}

// Stats lists the controller's state for `stats`: the target and the last
// window, then per task its rate, work done and left, and how long since
// it last backed off.
func (c *Controller) Stats(now time.Time) []kv.Stat {
	c.mu.Lock()
	defer c.mu.Unlock()
	us := func(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
	out := []kv.Stat{
		{Name: "bg_target_p99_us", Value: us(c.target)},
		{Name: "bg_window_p99_us", Value: us(c.last.P99)},
		{Name: "bg_window_requests", Value: strconv.FormatUint(c.last.Count, 10)},
		{Name: "bg_backoffs_latency", Value: strconv.FormatUint(c.backoffs[0], 10)},
		{Name: "bg_backoffs_queueing", Value: strconv.FormatUint(c.backoffs[1], 10)},
	}
	for i, q := range c.queues {
		out = append(out,
			kv.Stat{Name: "bg_queue_" + q.Name + "_us", Value: us(c.delays[i])},
			kv.Stat{Name: "bg_queue_" + q.Name + "_target_us", Value: us(q.Target)})
	}
	for _, t := range c.tasks {
		t.mu.Lock()
		since := "never"
		if !t.backedOff.IsZero() {
			since = strconv.FormatInt(now.Sub(t.backedOff).Milliseconds(), 10)
		}
		out = append(out,
			kv.Stat{Name: "bg_" + t.name + "_rate", Value: strconv.FormatFloat(t.rate, 'f', 0, 64)},
			kv.Stat{Name: "bg_" + t.name + "_done", Value: strconv.FormatUint(t.done, 10)},
			kv.Stat{Name: "bg_" + t.name + "_left", Value: strconv.FormatInt(t.left, 10)},
			kv.Stat{Name: "bg_" + t.name + "_backoff_age_ms", Value: since},
		)
		t.mu.Unlock()
	}
	return out
}

// Task is one kind of background work and its share of the node.
type Task struct {
	name           string
	floor, ceiling float64 // units per second
	latencyOnly    bool    // queueing does not slow it (FollowLatencyOnly)

	mu        sync.Mutex
	rate      float64 // units per second, set by Tick
	tokens    float64
	burst     float64 // most tokens held
	filled    time.Time
	done      uint64
	left      int64
	backedOff time.Time
}

// Take grants up to want units of work at now, from what the task's rate
// has accrued since its last take (at most its burst). 0 means none now:
// try at the next round.
func (t *Task) Take(want int, now time.Time) int {
	if want <= 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refill(now)
	n := max(0, min(want, int(t.tokens)))
	t.tokens -= float64(n)
	return n
}

// Ready reports whether the task may start work now whose size it learns
// only by doing it (a scan, a segment a peer asks for): its grant is not
// in debt. Charge then pays for what the work took.
func (t *Task) Ready(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refill(now)
	return t.tokens >= 1
}

// Charge pays for n units of work done after Ready. The grant goes into
// debt, which later grants pay off first: the rate holds on average
// however large the pieces the work came in.
func (t *Task) Charge(n int) {
	if n <= 0 {
		return
	}
	t.mu.Lock()
	t.tokens -= float64(n)
	t.done += uint64(n)
	t.mu.Unlock()
}

// Owe charges n units of work already done at now and says how long the
// caller should wait before doing more, for the grant to have paid them
// off at the task's current rate: for work that cannot be refused, only
// slowed (a store compaction, paced as it writes). 0: the grant covered
// them.
func (t *Task) Owe(n int64, now time.Time) time.Duration {
	if n <= 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refill(now)
	t.tokens -= float64(n)
	t.done += uint64(n)
	if t.tokens >= 0 || t.rate <= 0 {
		return 0
	}
	return time.Duration(-t.tokens / t.rate * float64(time.Second))
}

// refill adds what the rate accrued since the last grant (under mu).
func (t *Task) refill(now time.Time) {
	if !t.filled.IsZero() {
		t.tokens = min(t.burst, t.tokens+t.rate*now.Sub(t.filled).Seconds())
	}
	t.filled = now
}

// Refund gives back units taken and not used (a round found less work
// than it was granted).
func (t *Task) Refund(n int) {
	if n <= 0 {
		return
	}
	t.mu.Lock()
	t.tokens = min(t.burst, t.tokens+float64(n))
	t.mu.Unlock()
}

// Done counts work finished; Left says how much is known to remain (-1:
// unknown).
func (t *Task) Done(n int) {
	t.mu.Lock()
	t.done += uint64(n)
	t.mu.Unlock()
}

// Worked is the work counted so far, by Charge and Done.
func (t *Task) Worked() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}

// Left records how much work is known to remain (-1: unknown).
func (t *Task) Left(n int64) {
	t.mu.Lock()
	t.left = n
	t.mu.Unlock()
}

// Rate is the task's current rate, in units per second.
func (t *Task) Rate() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rate
}

// maxStretch bounds how many periods a window with too few requests is
// stretched: at 250 ms, a window of 2 s. A node quieter than that is
// judged quiet.
const maxStretch = 7

// quietFloor is the lowest p99 of the last quietWindows windows that had
// enough requests: the node's latency with background work backed off,
// from which the target is derived when none is set.
type quietFloor struct {
	ring [quietWindows]time.Duration
	n    int
	next int
}

// quietWindows: at a 250 ms period, the last 5 minutes.
const quietWindows = 1200

func (q *quietFloor) add(p time.Duration) {
	q.ring[q.next] = p
	q.next = (q.next + 1) % quietWindows
	q.n = min(q.n+1, quietWindows)
}

func (q *quietFloor) min() (time.Duration, bool) {
	if q.n == 0 {
		return 0, false
	}
	m := q.ring[0]
	for _, p := range q.ring[1:q.n] {
		m = min(m, p)
	}
	return m, true
}
