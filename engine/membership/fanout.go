package membership

import (
	"net"
	"strconv"
	"sync"

	"github.com/hashicorp/memberlist"
)

// fanout sends messages to peers off the loop, with one goroutine at most
// per (peer, kind) and only the newest message kept per (peer, kind): a
// slow or dead peer delays nothing else, and a ring superseded before it
// went out is never sent.
type fanout struct {
	send func(to *memberlist.Node, msg []byte) error
	done func(err error) // called after each send

	mu      sync.Mutex
	boxes   map[outboxKey]*outbox
	stopped bool
	wg      sync.WaitGroup
}

type outboxKey struct {
	id   string
	kind byte
}

type outbox struct {
	to   memberlist.Node
	msg  []byte // next message to send; nil when none
	busy bool   // a goroutine is draining the box
}

func newFanout(send func(*memberlist.Node, []byte) error, done func(error)) *fanout {
	return &fanout{send: send, done: done, boxes: map[outboxKey]*outbox{}}
}

// post queues msg (of the given kind; not modified afterwards) for node id
// at gossip address addr, replacing any message of that kind not yet sent.
func (f *fanout) post(id, addr string, kind byte, msg []byte) {
	to, ok := nodeAt(id, addr)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	k := outboxKey{id, kind}
	box := f.boxes[k]
	if box == nil {
		box = &outbox{}
		f.boxes[k] = box
	}
	box.to, box.msg = to, msg
	if !box.busy {
		box.busy = true
		f.wg.Add(1)
		go f.drain(k, box)
	}
}

func (f *fanout) drain(k outboxKey, box *outbox) {
	defer f.wg.Done()
	for {
		f.mu.Lock()
		to, msg := box.to, box.msg
		box.msg = nil
		if msg == nil || f.stopped {
			box.busy = false
			delete(f.boxes, k)
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		f.done(f.send(&to, msg))
	}
}

// stop drops unsent messages and waits for sends in flight (each bounded
// by memberlist's TCP timeout).
func (f *fanout) stop() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	f.wg.Wait()
}

// nodeAt builds the memberlist.Node that SendReliable needs.
func nodeAt(id, addr string) (memberlist.Node, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return memberlist.Node{}, false
	}
	ip := net.ParseIP(host)
	p, err := strconv.ParseUint(port, 10, 16)
	if ip == nil || err != nil {
		return memberlist.Node{}, false
	}
	return memberlist.Node{Name: id, Addr: ip, Port: uint16(p)}, true
}
