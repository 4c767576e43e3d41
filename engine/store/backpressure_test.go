package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestBackpressure holds the writer inside a commit so that the buffer
// fills: the next write must block (and be counted) until the writer frees
// room, and nothing may be lost.
func TestBackpressure(t *testing.T) {
	const valueLen = 1000
	opts := testOptions(vfs.NewMem())
	opts.BufferBytes = 4 * (valueLen + 8 + entryOverhead) // four entries
	release := make(chan struct{})
	opts.beforeCommit = func() { <-release }
	s := mustOpen(t, opts)

	value := func(i int) string { return fmt.Sprintf("%04d%s", i, strings.Repeat("v", valueLen-4)) }
	const total = 12
	done := make(chan error, 1)
	go func() {
		for i := range total {
			if err := s.Set([]byte(fmt.Sprintf("key%04d", i)), []byte(value(i)), Buffered); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	waitFor(t, "a writer to stall on a full buffer", func() bool { return s.Metrics().Stalls > 0 })
	select {
	case err := <-done:
		t.Fatalf("all writes returned (%v) while the writer was held", err)
	default:
	}
	if m := s.Metrics(); m.BufferBytes > opts.BufferBytes {
		t.Fatalf("buffer holds %d bytes, over its limit %d", m.BufferBytes, opts.BufferBytes)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := range total {
		expectGet(t, s, fmt.Sprintf("key%04d", i), value(i), true)
	}
	if m := s.Metrics(); m.StallTime <= 0 {
		t.Fatalf("StallTime = %v after a stall", m.StallTime)
	}
}

// TestOversizedWriteAdmitted: a value larger than the whole buffer must be
// admitted once the buffer is empty instead of blocking forever.
func TestOversizedWriteAdmitted(t *testing.T) {
	opts := testOptions(vfs.NewMem())
	opts.BufferBytes = 1 << 10
	s := mustOpen(t, opts)
	big := strings.Repeat("x", 64<<10)
	mustSet(t, s, "small", "s", Buffered) // the buffer is not empty now
	mustSet(t, s, "big", big, Buffered)   // blocks until the writer drains "small"
	mustSet(t, s, "after", "a", Buffered)
	expectGet(t, s, "big", big, true)
	expectGet(t, s, "small", "s", true)
	expectGet(t, s, "after", "a", true)
}

// TestBlockedWriterSeesClose: a writer blocked on a full buffer gets
// ErrClosed when the store closes under it, and the buffered data is kept.
func TestBlockedWriterSeesClose(t *testing.T) {
	fs := vfs.NewMem()
	opts := testOptions(fs)
	opts.BufferBytes = 1 << 10
	release := make(chan struct{})
	opts.beforeCommit = func() { <-release }
	s := mustOpen(t, opts)
	mustSet(t, s, "first", strings.Repeat("f", 900), Buffered)
	done := make(chan error, 1)
	go func() { done <- s.Set([]byte("second"), []byte(strings.Repeat("s", 900)), Buffered) }()
	waitFor(t, "the second write to stall", func() bool { return s.Metrics().Stalls > 0 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	waitFor(t, "Close to stop writes", func() bool { return s.buf.stopped() != nil })
	close(release)
	if err := <-done; err != ErrClosed {
		t.Fatalf("blocked Set = %v, want ErrClosed", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v", err)
	}
	expectGet(t, mustOpen(t, testOptions(fs)), "first", strings.Repeat("f", 900), true)
}
