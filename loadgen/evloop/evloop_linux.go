package evloop

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Supported reports whether this platform has an implementation.
const Supported = true

// ErrWouldBlock is returned by a Socket's Read and Write when no byte can
// move now. It is syscall.EAGAIN, so errors.Is matches either.
var ErrWouldBlock error = syscall.EAGAIN

// Socket is a nonblocking stream socket, registered with at most one Loop
// at a time. It is not safe for concurrent use.
type Socket struct {
	fd       int
	loop     *Loop
	h        Handler
	writable bool // EPOLLOUT is in the interest set
}

// Detach takes over nc's socket: it duplicates the descriptor, closes nc
// (which takes the socket out of Go's netpoller) and returns the duplicate
// in nonblocking mode. Socket options such as TCP_NODELAY carry over.
func Detach(nc net.Conn) (*Socket, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("evloop: %T has no file descriptor: %w", nc, errUnsupported)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("evloop: %w", err)
	}
	fd, dupErr := -1, error(nil)
	if err := rc.Control(func(f uintptr) { fd, dupErr = dupCloexec(int(f)) }); err != nil {
		return nil, fmt.Errorf("evloop: %w", err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("evloop: dup: %w", dupErr)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("evloop: set nonblocking: %w", err)
	}
	_ = nc.Close() // only now: on failure above, nc is left as it was
	return &Socket{fd: fd}, nil
}

// Reattach hands an idle socket back to Go's netpoller as a net.Conn, for
// a caller that cannot drive it from a loop after all. The Socket is
// closed; the connection is not.
func (s *Socket) Reattach() (net.Conn, error) {
	if s.fd < 0 {
		return nil, ErrClosed
	}
	if s.loop != nil {
		s.loop.Remove(s)
	}
	f := os.NewFile(uintptr(s.fd), "evloop-socket")
	s.fd = -1
	nc, err := net.FileConn(f) // duplicates the descriptor
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("evloop: reattach: %w", err)
	}
	return nc, nil
}

func dupCloexec(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(fd)
	if err == nil {
		syscall.CloseOnExec(nfd)
	}
	return nfd, err
}

// rawIO reads or writes without telling the scheduler: on a nonblocking
// socket the call returns in microseconds, and the bookkeeping of
// syscall.Read (entersyscall, exitsyscall) costs a few percent of the
// loop. The common errors come back as preallocated values. The race
// detector does not see the kernel's accesses to p; a Socket belongs to
// one goroutine, which is what makes that safe.
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	r, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	switch e {
	case 0:
		return int(r), nil
	case syscall.EAGAIN:
		return 0, ErrWouldBlock
	case syscall.EINTR:
		return 0, syscall.EINTR
	}
	return 0, e
}

// Read reads what is available, up to len(p). It returns ErrWouldBlock
// when nothing is, and io.EOF when the peer has closed.
func (s *Socket) Read(p []byte) (int, error) {
	if s.fd < 0 {
		return 0, ErrClosed
	}
	for {
		n, err := rawIO(syscall.SYS_READ, s.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write writes as much of p as the socket's buffer takes. When that is
// less than all of p it returns the count and ErrWouldBlock; the caller
// resends the rest after Writable.
func (s *Socket) Write(p []byte) (int, error) {
	if s.fd < 0 {
		return 0, ErrClosed
	}
	written := 0
	for written < len(p) {
		n, err := rawIO(syscall.SYS_WRITE, s.fd, p[written:])
		if n > 0 {
			written += n
		}
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return written, err
		}
	}
	return written, nil
}

// WantWritable adds or removes write readiness from the socket's
// interest set. Interest in readability is always on.
func (s *Socket) WantWritable(on bool) error {
	if s.loop == nil || s.writable == on {
		return nil
	}
	s.writable = on
	return s.loop.ctl(syscall.EPOLL_CTL_MOD, s)
}

// Close removes the socket from its loop and closes it.
func (s *Socket) Close() error {
	if s.fd < 0 {
		return ErrClosed
	}
	if s.loop != nil {
		s.loop.Remove(s)
	}
	err := syscall.Close(s.fd)
	s.fd = -1
	return err
}

// Loop waits for readiness on its sockets with one epoll instance. All its
// methods and those of its sockets must be called from one goroutine.
type Loop struct {
	epfd    int
	sockets []*Socket // by descriptor
	count   int
	events  []syscall.EpollEvent
}

// New returns an empty Loop.
func New() (*Loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("evloop: epoll_create1: %w", err)
	}
	return &Loop{epfd: epfd, events: make([]syscall.EpollEvent, 256)}, nil
}

// Add registers s for readability (level-triggered), delivered to h.
func (l *Loop) Add(s *Socket, h Handler) error {
	if s.fd < 0 || l.epfd < 0 {
		return ErrClosed
	}
	if s.loop != nil {
		return fmt.Errorf("evloop: socket already in a loop")
	}
	s.loop, s.h, s.writable = l, h, false
	if err := l.ctl(syscall.EPOLL_CTL_ADD, s); err != nil {
		s.loop, s.h = nil, nil
		return err
	}
	if s.fd >= len(l.sockets) {
		l.sockets = append(l.sockets, make([]*Socket, s.fd+1-len(l.sockets))...)
	}
	l.sockets[s.fd] = s
	l.count++
	return nil
}

// Remove unregisters s; it stays open and can be added to a loop again.
func (l *Loop) Remove(s *Socket) {
	if s.loop != l {
		return
	}
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil)
	l.sockets[s.fd] = nil
	l.count--
	s.loop, s.h, s.writable = nil, nil, false
}

// Len is the number of registered sockets.
func (l *Loop) Len() int { return l.count }

func (l *Loop) ctl(op int, s *Socket) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(s.fd)}
	if s.writable {
		ev.Events |= syscall.EPOLLOUT
	}
	if err := syscall.EpollCtl(l.epfd, op, s.fd, &ev); err != nil {
		return fmt.Errorf("evloop: epoll_ctl: %w", err)
	}
	return nil
}

// Wait waits up to timeout for ready sockets and calls their handlers. It
// returns the number of sockets that were ready; 0 after a timeout or an
// interrupted wait.
func (l *Loop) Wait(timeout time.Duration) (int, error) {
	if l.epfd < 0 {
		return 0, ErrClosed
	}
	ms := int(timeout / time.Millisecond)
	if timeout > 0 && ms == 0 {
		ms = 1
	}
	n, err := syscall.EpollWait(l.epfd, l.events, ms)
	if err == syscall.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("evloop: epoll_wait: %w", err)
	}
	for i := range n {
		ev := &l.events[i]
		// A handler may have closed or removed a socket reported ready in
		// the same batch; its descriptor may even have been reused.
		if int(ev.Fd) >= len(l.sockets) || l.sockets[ev.Fd] == nil {
			continue
		}
		s := l.sockets[ev.Fd]
		if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
			s.h.Readable()
		}
		if ev.Events&syscall.EPOLLOUT != 0 && s.loop == l && s.writable {
			s.h.Writable()
		}
	}
	return n, nil
}

// Close closes the epoll instance. Registered sockets are removed, not
// closed.
func (l *Loop) Close() error {
	if l.epfd < 0 {
		return ErrClosed
	}
	for _, s := range l.sockets {
		if s != nil {
			s.loop, s.h, s.writable = nil, nil, false
		}
	}
	clear(l.sockets)
	l.count = 0
	err := syscall.Close(l.epfd)
	l.epfd = -1
	return err
}
