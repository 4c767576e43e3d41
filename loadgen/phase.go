package loadgen

import "math"

// maxTime is the end of a phase limited only by its operation count.
const maxTime = math.MaxInt64

// phase is one measured run of a group of sessions: the schedule every
// driver follows. Times are nanoseconds on the run's clock.
type phase struct {
	start        int64   // start of the warm-up; the open-loop schedule's origin
	measureStart int64   // operations starting earlier are not recorded
	end          int64   // no operation starts at or after it; MaxInt64 when only counted
	interval     float64 // open loop: nanoseconds between one connection's operations
	depth        int     // pipeline depth
	drainUntil   int64   // open loop: scheduled operations still waiting for a slot are abandoned after this
	stop         chan struct{}
}

func (p *phase) stopped() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// quota splits a total operation count over n sessions; 0 means no limit.
func quota(total int64, n, i int) int64 {
	if total == 0 {
		return math.MaxInt64
	}
	q := total / int64(n)
	if int64(i) < total%int64(n) {
		q++
	}
	return q
}
