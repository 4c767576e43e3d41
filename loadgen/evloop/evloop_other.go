//go:build !linux

package evloop

import (
	"errors"
	"net"
	"time"
)

// Supported reports whether this platform has an implementation.
const Supported = false

// ErrWouldBlock is what a Socket would return when no byte can move now.
var ErrWouldBlock = errors.New("evloop: would block")

// Socket is unavailable on this platform.
type Socket struct{}

// Detach fails with errors.ErrUnsupported on this platform.
func Detach(net.Conn) (*Socket, error) { return nil, errUnsupported }

func (*Socket) Read([]byte) (int, error)  { return 0, errUnsupported }
func (*Socket) Write([]byte) (int, error) { return 0, errUnsupported }
func (*Socket) WantWritable(bool) error   { return errUnsupported }
func (*Socket) Close() error              { return errUnsupported }

// Reattach fails with errors.ErrUnsupported on this platform.
func (*Socket) Reattach() (net.Conn, error) { return nil, errUnsupported }

// Loop is unavailable on this platform.
type Loop struct{}

// New fails with errors.ErrUnsupported on this platform.
func New() (*Loop, error) { return nil, errUnsupported }

func (*Loop) Add(*Socket, Handler) error      { return errUnsupported }
func (*Loop) Remove(*Socket)                  {}
func (*Loop) Len() int                        { return 0 }
func (*Loop) Wait(time.Duration) (int, error) { return 0, errUnsupported }
func (*Loop) Close() error                    { return errUnsupported }
