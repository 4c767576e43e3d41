package cluster

import (
	"context"
	"log/slog"
	"maps"
	"slices"
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

// tally sums counts by peer and logs them at most once per logEvery.
type tally struct {
	mu     sync.Mutex
	counts map[string]uint64
	last   time.Time
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
	now := time.Now()
	if now.Sub(t.last) < logEvery {
		t.mu.Unlock()
		return
	}
	counts := t.counts
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
