package cluster

import (
	"testing"
	"testing/synctest"
)

// TestTasksRefuseAfterClose: a request that races Close (a coordinator's
// write round starting while its node shuts down, found by a simulated
// crash) is refused instead of adding to a WaitGroup already waited on.
func TestTasksRefuseAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ts tasks
		release := make(chan struct{})
		if !ts.goTask(func() { <-release }) {
			t.Fatal("task refused before close")
		}
		closed := make(chan struct{})
		go func() {
			ts.closeAndWait()
			close(closed)
		}()
		synctest.Wait() // closeAndWait is waiting for the running task
		if _, ok := ts.add(); ok {
			t.Fatal("add accepted while Close waits")
		}
		if ts.goTask(func() { t.Error("task ran after close") }) {
			t.Fatal("goTask accepted while Close waits")
		}
		select {
		case <-closed:
			t.Fatal("closeAndWait returned before the running task ended")
		default:
		}
		close(release)
		<-closed
	})
}
