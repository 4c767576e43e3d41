package store

import "sync/atomic"

// gate keeps Pebble open while readers use it: Close shuts the gate and
// waits for the readers inside before it closes Pebble. Unlike a RWMutex it
// never blocks an entering reader, so a Scan callback may call Get.
type gate struct {
	active  atomic.Int64
	shut    atomic.Bool
	drained chan struct{} // receives a token when the last reader leaves a shut gate
}

func (g *gate) init() { g.drained = make(chan struct{}, 1) }

// enter admits a reader; false means the store is closed.
func (g *gate) enter() bool {
	g.active.Add(1)
	if g.shut.Load() {
		g.exit()
		return false
	}
	return true
}

func (g *gate) exit() {
	if g.active.Add(-1) == 0 && g.shut.Load() {
		select {
		case g.drained <- struct{}{}:
		default:
		}
	}
}

// close refuses new readers and waits for the ones inside to leave.
func (g *gate) close() {
	g.shut.Store(true)
	for g.active.Load() != 0 {
		<-g.drained
	}
}
