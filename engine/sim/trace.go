package sim

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Trace is a run's log of events, stamped with simulated time since the
// start. The schedule's own lines are the same on every replay of a
// seed; what nodes and clients report depends on the interleaving.
type Trace struct {
	mu    sync.Mutex
	start time.Time
	lines []string
}

func newTrace() *Trace { return &Trace{start: time.Now()} }

func (t *Trace) add(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf("%9.3fs ", time.Since(t.start).Seconds())+fmt.Sprintf(format, args...))
}

// String is the whole trace, a line per event.
func (t *Trace) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
