package pace

import "time"

// Pacer rests a task after each chunk of work. The zero value never rests.
type Pacer struct {
	// Share is the fraction of one core the task may keep busy, in (0, 1];
	// 0 or 1 mean no resting.
	Share float64
	// MaxRest caps one rest, so that a chunk that was slow for reasons
	// other than its own work (the task was descheduled) does not park it
	// for long. 0 means one second.
	MaxRest time.Duration
	// Sleep waits d or until stop is closed, reporting false in the second
	// case. Nil means a real timer; tests inject their own.
	Sleep func(d time.Duration, stop <-chan struct{}) bool
}

// Rest returns how long to rest after a chunk that ran for busy:
// busy × (1 − Share) / Share, capped by MaxRest.
func (p Pacer) Rest(busy time.Duration) time.Duration {
	if p.Share <= 0 || p.Share >= 1 || busy <= 0 {
		return 0
	}
	limit := p.MaxRest
	if limit <= 0 {
		limit = time.Second
	}
	rest := time.Duration(float64(busy) * (1 - p.Share) / p.Share)
	return min(rest, limit)
}

// After rests after a chunk that ran for busy. It returns false if stop
// was closed first: the task should end.
func (p Pacer) After(busy time.Duration, stop <-chan struct{}) bool {
	d := p.Rest(busy)
	if d == 0 {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	if p.Sleep != nil {
		return p.Sleep(d, stop)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
