package membership

import (
	"bytes"
	"sync"

	"github.com/hashicorp/memberlist"
)

// maxQueuedRings bounds the rings waiting for the loop. When more arrive
// the oldest are dropped: a newer push, a pull or anti-entropy brings the
// winner again.
const maxQueuedRings = 16

// nodeEvent is the latest gossip news of one node, copied out of
// memberlist's callback.
type nodeEvent struct {
	alive bool
	addr  string
	meta  []byte
}

// inbox carries what memberlist's callbacks hand over to the loop. The
// callbacks run on memberlist's goroutines, some holding its locks, so
// they only copy, append under a short leaf lock, and kick the loop; they
// never block. Node events coalesce to the latest per node.
type inbox struct {
	kick chan struct{} // capacity 1: "there is something to read"

	mu       sync.Mutex
	nodes    map[string]nodeEvent
	rings    [][]byte            // framed kindRing messages, oldest first
	requests map[string]struct{} // IDs of nodes asking for our ring
	dropped  uint64              // rings dropped because the queue was full
	bad      uint64              // messages that did not parse
}

func newInbox() *inbox {
	return &inbox{
		kick:     make(chan struct{}, 1),
		nodes:    map[string]nodeEvent{},
		requests: map[string]struct{}{},
	}
}

func (in *inbox) signal() {
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// node records gossip news about n.
func (in *inbox) node(n *memberlist.Node, alive bool) {
	ev := nodeEvent{alive: alive, addr: n.Address(), meta: bytes.Clone(n.Meta)}
	in.mu.Lock()
	in.nodes[n.Name] = ev
	in.mu.Unlock()
	in.signal()
}

// message queues a framed message; b may be reused by the caller, so it is
// copied.
func (in *inbox) message(b []byte) {
	kind, body, err := parseFrame(b)
	in.mu.Lock()
	switch {
	case err != nil:
		in.bad++
	case kind == kindRing:
		if len(in.rings) == maxQueuedRings {
			in.rings = in.rings[1:]
			in.dropped++
		}
		in.rings = append(in.rings, bytes.Clone(body))
	case kind == kindRingRequest:
		in.requests[string(body)] = struct{}{}
	}
	in.mu.Unlock()
	in.signal()
}

// batch is everything the inbox held at one moment.
type batch struct {
	nodes        map[string]nodeEvent
	rings        [][]byte
	requests     map[string]struct{}
	dropped, bad uint64
}

// take empties the inbox.
func (in *inbox) take() batch {
	in.mu.Lock()
	defer in.mu.Unlock()
	b := batch{rings: in.rings, dropped: in.dropped, bad: in.bad}
	if len(in.nodes) > 0 { // hand the map over; an empty one stays (no allocation per tick)
		b.nodes, in.nodes = in.nodes, map[string]nodeEvent{}
	}
	if len(in.requests) > 0 {
		b.requests, in.requests = in.requests, map[string]struct{}{}
	}
	in.rings, in.dropped, in.bad = nil, 0, 0
	return b
}
