package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Logging. Background work runs in rounds of a second or less; one line
// per round would bury an operator. So counts are summed per peer and
// logged at most once per logEvery (tally), with the totals since the
// last line; events that are rare by nature (a ring move, catching up a
// partition set) are logged as they happen.

// logEvery is the least time between two lines of one tally.
const logEvery = 10 * time.Second

// tally sums counts by peer and logs them at most once per logEvery: the
// first count at once, later ones when the next count or flush finds
// logEvery passed, so what arrives after a line is never left unsaid.
type tally struct {
	mu     sync.Mutex
	counts map[string]uint64
	last   time.Time
	msg    string
	level  slog.Level
}

// add counts n for peer and, when logEvery has passed since the last
// line, logs the sums (one attribute per peer, and the total) and resets.
func (t *tally) add(l *slog.Logger, level slog.Level, msg, peer string, n uint64) {
	if n == 0 {
		return
	}
	t.mu.Lock()
	if t.counts == nil {
		t.counts = map[string]uint64{}
	}
	t.counts[peer] += n
	t.msg, t.level = msg, level
	t.mu.Unlock()
	t.flush(l, time.Now())
}

// flush logs what was counted since the last line, if logEvery has passed.
func (t *tally) flush(l *slog.Logger, now time.Time) {
	t.mu.Lock()
	if len(t.counts) == 0 || now.Sub(t.last) < logEvery {
		t.mu.Unlock()
		return
	}
	counts, msg, level := t.counts, t.msg, t.level
	t.counts, t.last = nil, now
	t.mu.Unlock()
	var total uint64
	attrs := make([]any, 0, 2*len(counts)+2)
	for _, id := range slices.Sorted(maps.Keys(counts)) {
		total += counts[id]
		if id != "" {
			attrs = append(attrs, slog.Uint64(id, counts[id]))
		}
	}
	attrs = append(attrs, slog.Uint64("total", total))
	l.Log(context.Background(), level, msg, attrs...)
}

// logs are the node's tallies.
type logs struct {
	handedOff, hintsDelivered, hintFailures, aaeRepaired, reapDeferred, catchUpSkipped tally
}

// flush logs every tally's counts that waited for their window.
func (g *logs) flush(l *slog.Logger, now time.Time) {
	for _, t := range []*tally{&g.handedOff, &g.hintsDelivered, &g.hintFailures, &g.aaeRepaired, &g.reapDeferred, &g.catchUpSkipped} {
		t.flush(l, now)
	}
}

// slowEvery is the least time between two slow-request lines.
const slowEvery = time.Second

// slowLog logs client requests that took Options.SlowRequest or longer:
// one line a second at most, saying how many more there were since.
type slowLog struct {
	threshold time.Duration // <= 0: off
	mu        sync.Mutex
	last      time.Time
	skipped   uint64
}

// slowNote is what one request's coordination tells the slow log: when
// it started and, filled only once the request is known to be slow, what
// its replicas did (slowLog.detail).
type slowNote struct {
	start  time.Time
	detail string
}

// slow reports whether the request has taken long enough to be logged.
func (l *slowLog) slow(sn *slowNote) bool {
	return l.threshold > 0 && time.Since(sn.start) >= l.threshold
}

// note logs the request when it was slow.
func (l *slowLog) note(lg *slog.Logger, op string, key []byte, sn *slowNote, err error) {
	if !l.slow(sn) {
		return
	}
	took := time.Since(sn.start)
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < slowEvery {
		l.skipped++
		l.mu.Unlock()
		return
	}
	skipped := l.skipped
	l.last, l.skipped = now, 0
	l.mu.Unlock()
	k := string(key)
	if len(k) > 64 {
		k = k[:64] + "…"
	}
	attrs := []any{slog.String("op", op), slog.String("key", k), slog.Duration("took", took.Round(time.Microsecond))}
	if sn.detail != "" {
		attrs = append(attrs, slog.String("replicas", sn.detail))
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	attrs = append(attrs, slog.Uint64("more_since_last_line", skipped))
	lg.Warn("slow request", attrs...)
}

// replyLine describes the replies a round got, in arrival order, and the
// replicas still in flight: "n2 found 3ms, n4 failed 480ms (not ready),
// waiting n3". A read's reply is found or none; a write's acked.
func replyLine(got []reply, asked []target, read bool) string {
	var b strings.Builder
	for _, r := range got {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.t.id)
		switch {
		case r.err != nil:
			b.WriteString(" failed")
		case !read:
			b.WriteString(" acked")
		case r.ok:
			b.WriteString(" found")
		default:
			b.WriteString(" none")
		}
		fmt.Fprintf(&b, " %v", r.at.Round(100*time.Microsecond))
		if r.err != nil {
			fmt.Fprintf(&b, " (%v)", r.err)
		}
	}
	for _, tg := range asked {
		if !slices.ContainsFunc(got, func(r reply) bool { return r.t.id == tg.id }) {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString("waiting " + tg.id)
		}
	}
	return b.String()
}
