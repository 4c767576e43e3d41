// Package evloop runs nonblocking TCP sockets from one goroutine with
// epoll, the way memcaslap and memtier drive their connections with
// libevent.
//
// loadgen's closed loop is bounded by round trips: with C connections and
// one request outstanding on each, ops/s = C / round trip. Go's netpoller
// adds to every round trip a read that fails with EAGAIN, a park and a
// wake-up of the goroutine, often across threads. A Loop instead waits for
// many sockets in one epoll_wait and handles each ready socket's reply and
// next request on the same thread, with no goroutine hand-off.
//
// A Socket is taken over from an established net.Conn with Detach; its
// Read and Write never block and return ErrWouldBlock instead. The owner of
// the Loop enforces timeouts: deadlines on a Socket are no-ops.
//
// Only Linux has an implementation; elsewhere Supported is false and New
// and Detach fail with errors.ErrUnsupported, and callers fall back to
// goroutines.
package evloop
