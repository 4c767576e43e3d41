package evloop

import (
	"errors"
	"time"
)

// ErrClosed is returned by operations on a closed Socket or Loop.
var ErrClosed = errors.New("evloop: closed")

// Handler receives a Socket's readiness. Both run on the goroutine that
// called Loop.Wait. Errors and hang-ups are delivered as Readable, so the
// next Read reports them.
type Handler interface {
	Readable()
	Writable()
}

// LoopTimed marks the socket as one whose timeouts the Loop's owner
// enforces, so wrappers need not set deadlines.
func (s *Socket) LoopTimed() {}

// SetReadDeadline is a no-op: the Loop's owner enforces timeouts.
func (s *Socket) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline is a no-op: the Loop's owner enforces timeouts.
func (s *Socket) SetWriteDeadline(time.Time) error { return nil }

var errUnsupported = errors.ErrUnsupported
