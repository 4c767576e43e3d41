package membership

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A metadata update memberlist did not get out (it reports a timeout; a
// concurrent refutation can also have dropped it) is tried again every
// ProbeInterval until one succeeds, and no more after that. Before, the
// one failed attempt was the last: peers kept a stale ring version.
func TestFailedAdvertiseIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMembership(Config{NodeID: "a", Timing: Timing{ProbeInterval: time.Second}})
		var calls atomic.Int32
		m.updateNode = func(time.Duration) error {
			if calls.Add(1) < 3 {
				return errors.New("timeout waiting for update broadcast")
			}
			return nil
		}
		m.wg.Add(1)
		go m.advertise()
		m.advertiseCh <- struct{}{}
		synctest.Wait()
		if got := calls.Load(); got != 1 {
			t.Fatalf("%d updates before any retry, want 1", got)
		}
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		if got := calls.Load(); got != 3 {
			t.Fatalf("%d updates after two retry intervals, want 3", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := calls.Load(); got != 3 {
			t.Fatalf("%d updates after one succeeded, want 3", got)
		}
		close(m.stopped)
		m.wg.Wait()
	})
}
