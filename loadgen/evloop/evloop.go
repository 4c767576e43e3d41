package evloop

import (
	"errors"
	"syscall"
	"time"
)

// ErrWouldBlock is returned by a Socket's Read and Write when no byte can
// move now. It is syscall.EAGAIN, so errors.Is matches either.
var ErrWouldBlock error = syscall.EAGAIN

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
