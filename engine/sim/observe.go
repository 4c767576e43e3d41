package sim

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/record"
)

// observer sees every change each node's engine makes (engine.Options.
// Observer) and checks one invariant the end state cannot show: a dot
// names one version of one key, so no two writes of a key may be minted
// with the same dot. Every node of every incarnation mints through its
// own actors; a dot minted twice is a node that lost track of its own
// history (seeds 566 and 547, whose losses the checker saw only when the
// reused dot happened to carry a value some replica then dropped).
//
// For the keys named by watch (a name ending in * names a prefix), it also writes every change on every node
// into the trace: what a failing seed needs to be explained (how seed
// 547 was).
type observer struct {
	trace    *Trace
	watch    map[string]bool
	prefixes []string // watched key prefixes ("reg*")

	mu     sync.Mutex
	minted map[string]mint // key + " " + dot → the write that minted it
	reused []string        // violations, for the result
}

type mint struct {
	node string
	at   time.Duration
}

func newObserver(trace *Trace, watch []string) *observer {
	o := &observer{trace: trace, minted: map[string]mint{}}
	o.watch = map[string]bool{}
	for _, k := range watch {
		if p, ok := strings.CutSuffix(k, "*"); ok {
			o.prefixes = append(o.prefixes, p)
		} else {
			o.watch[k] = true
		}
	}
	return o
}

func (o *observer) watched(key []byte) bool {
	if o.watch[string(key)] {
		return true
	}
	for _, p := range o.prefixes {
		if strings.HasPrefix(string(key), p) {
			return true
		}
	}
	return false
}

// forNode is the engine Observer of one node.
func (o *observer) forNode(id string) func(engine.Event) {
	return func(ev engine.Event) {
		if ev.What == engine.EventPut {
			o.mint(id, ev)
		}
		if o.watched(ev.Key) {
			o.trace.add("watch %s %s %s", id, ev.What, describeEvent(ev))
		}
	}
}

// traceKey is the cluster's TraceKey of one node: its decisions about
// watched keys go into the trace.
func (o *observer) traceKey(id string) func([]byte, string) {
	return func(key []byte, what string) {
		if o.watched(key) {
			o.trace.add("watch %s %s %s", id, key, what)
		}
	}
}

func (o *observer) mint(id string, ev engine.Event) {
	k := fmt.Sprintf("%s %x:%d", ev.Key, uint64(ev.Dot.Actor), ev.Dot.Counter)
	at := time.Since(o.trace.start)
	o.mu.Lock()
	defer o.mu.Unlock()
	if first, dup := o.minted[k]; dup {
		v := fmt.Sprintf("key %s: dot %x:%d minted twice, by %s at %.3fs and by %s at %.3fs",
			ev.Key, uint64(ev.Dot.Actor), ev.Dot.Counter, first.node, first.at.Seconds(), id, at.Seconds())
		o.reused = append(o.reused, v)
		return
	}
	o.minted[k] = mint{id, at}
}

// violations are the dots minted twice so far.
func (o *observer) violations() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.reused...)
}

// describeEvent is one watched change: the dot a put minted, a hint's
// owner, or the record's clock and versions (dot/bytes) after it.
func describeEvent(ev engine.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", ev.Key)
	if ev.What == engine.EventPut {
		fmt.Fprintf(&b, " minted=%x:%d", uint64(ev.Dot.Actor), ev.Dot.Counter)
	}
	if ev.Owner != "" {
		fmt.Fprintf(&b, " owner=%s", ev.Owner)
	}
	if ev.Record == nil {
		return b.String()
	}
	var r record.Record
	if err := record.Decode(&r, ev.Record); err != nil {
		fmt.Fprintf(&b, " undecodable: %v", err)
		return b.String()
	}
	b.WriteString(" clock=")
	for i, e := range r.Clock {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%x:%d", uint64(e.Actor), e.Counter)
	}
	b.WriteString(" versions=")
	for i, s := range r.Siblings {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%x:%d/%d", uint64(s.Dot.Actor), s.Dot.Counter, len(s.Value))
		if s.Deleted {
			b.WriteString("/deleted")
		}
	}
	return b.String()
}
