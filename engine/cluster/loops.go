package cluster

import "time"

// every runs round each interval on a background goroutine until Close;
// a negative interval never runs it. Rounds bound their own work.
func (n *Node) every(interval time.Duration, round func()) {
	n.everyOrKick(interval, nil, round)
}

// everyOrKick is every, also running round whenever kick receives.
func (n *Node) everyOrKick(interval time.Duration, kick chan struct{}, round func()) {
	if interval <= 0 {
		return
	}
	n.bg.goTask(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-n.stop:
				return
			case <-tick.C:
				round()
			case <-kick:
				round()
			}
		}
	})
}
