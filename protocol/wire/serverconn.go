package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// serverConn serves one connection. Its reader goroutine (the one running
// serve) reads and checks frames and hands requests to worker goroutines,
// at most MaxConcurrentPerConn at a time; workers queue their responses on
// the frameWriter as they finish, so responses leave in completion order.
type serverConn struct {
	srv      *Server
	nc       net.Conn
	ctx      context.Context // cancelled when the connection is aborted
	cancel   context.CancelFunc
	out      *frameWriter
	work     chan request  // to idle workers
	slots    chan struct{} // one token per request being handled
	workers  int           // workers started; owned by the reader
	handlers sync.WaitGroup
	stopRead chan struct{} // closed by drain
	draining atomic.Bool
	writeErr atomic.Pointer[error] // why the writer failed, if it did
	done     chan struct{}         // closed when serve returns
}

// request is a request handed to a worker; payload is a pooled copy.
type request struct {
	typ     MsgType
	version uint8
	id      uint64
	payload *buffer
}

func newServerConn(s *Server, nc net.Conn) *serverConn {
	sc := &serverConn{
		srv:      s,
		nc:       nc,
		out:      newFrameWriter(nc, s.opts.WriteTimeout),
		work:     make(chan request),
		slots:    make(chan struct{}, s.opts.MaxConcurrentPerConn),
		stopRead: make(chan struct{}),
		done:     make(chan struct{}),
	}
	ctx := context.WithValue(s.ctx, peerAddrKey{}, nc.RemoteAddr())
	sc.ctx, sc.cancel = context.WithCancel(ctx)
	return sc
}

// serve runs the connection to its end; see Server.ServeConn.
func (sc *serverConn) serve() error {
	defer close(sc.done)
	go sc.out.run(nil, sc.writeFailed)
	err := sc.readLoop()
	graceful := sc.draining.Load()
	if !graceful {
		// The client left, broke the protocol, or the server was closed:
		// nobody will read the responses, so stop the handlers now.
		_ = sc.nc.Close()
		sc.cancel()
	}
	close(sc.work)
	sc.handlers.Wait()
	close(sc.out.queue) // no sender is left; the writer flushes and exits
	<-sc.out.done
	sc.cancel()
	_ = sc.nc.Close()
	return sc.result(err, graceful)
}

// result classifies how the connection ended and reports failures.
func (sc *serverConn) result(readErr error, graceful bool) error {
	s := sc.srv
	closedHere := readErr == nil || errors.Is(readErr, net.ErrClosed)
	if p := sc.writeErr.Load(); p != nil && closedHere {
		readErr, closedHere = *p, false // the writer failed and closed the connection
	}
	switch {
	case graceful || (closedHere && s.isClosed()):
		return ErrServerClosed
	case readErr == nil || errors.Is(readErr, io.EOF):
		return nil
	}
	if isProtocolError(readErr) {
		s.stats.protocolErrors.Add(1)
	}
	if f := s.opts.OnConnError; f != nil {
		f(sc.nc.RemoteAddr(), readErr)
	}
	return readErr
}

func isProtocolError(err error) bool {
	for _, target := range []error{ErrMalformed, ErrVersion, ErrFrameTooLarge, ErrChecksum, ErrUnknownType} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// writeFailed aborts the connection when a response cannot be written (the
// client stopped reading, or the connection broke).
func (sc *serverConn) writeFailed(err error) {
	sc.writeErr.CompareAndSwap(nil, &err)
	_ = sc.nc.Close()
	sc.cancel()
}

// drain stops reading new requests; serve then finishes the ones in hand.
func (sc *serverConn) drain() {
	if sc.draining.CompareAndSwap(false, true) {
		close(sc.stopRead)
		_ = sc.nc.SetReadDeadline(time.Unix(1, 0)) // wakes a blocked read
	}
}

// readLoop reads requests until the stream ends, a frame is rejected or
// the connection is drained.
func (sc *serverConn) readLoop() error {
	r := newFrameReader(sc.nc, sc.srv.opts.MaxPayload)
	for {
		h, err := r.readHeader()
		if err != nil {
			return err
		}
		if err := sc.check(h); err != nil {
			return err
		}
		p, err := r.readPayload(h)
		if err != nil {
			return err
		}
		if h.Type == TypePing {
			sc.pong(h)
			continue
		}
		if sc.srv.opts.Inline != nil && sc.answerInline(h, p) {
			continue
		}
		if !sc.dispatch(h, p) {
			return nil
		}
	}
}

// check rejects frames a server must not accept, before their payload is
// read.
func (sc *serverConn) check(h Header) error {
	if h.Flags != 0 {
		return fmt.Errorf("%w: response frame (flags %#x) sent to a server", ErrMalformed, h.Flags)
	}
	if h.Type != TypePing && !sc.srv.opts.Types.Has(h.Type) {
		return fmt.Errorf("%w: %d", ErrUnknownType, h.Type)
	}
	return nil
}

func (sc *serverConn) pong(h Header) {
	out := getBuffer()
	out.b = AppendFrame(out.b[:0], Header{Version: h.Version, Type: TypePing, Flags: FlagResponse, ID: h.ID}, nil)
	sc.out.send(out, sc.ctx.Done())
}

// dispatch hands the request to a worker once a slot is free, starting a
// worker if none is idle. It returns false if the connection is ending.
func (sc *serverConn) dispatch(h Header, p []byte) bool {
	select {
	case sc.slots <- struct{}{}:
	case <-sc.stopRead:
		return false
	case <-sc.ctx.Done():
		return false
	}
	buf := getBuffer()
	buf.b = append(buf.b[:0], p...)
	req := request{typ: h.Type, version: h.Version, id: h.ID, payload: buf}
	select {
	case sc.work <- req:
		return true
	default:
	}
	if sc.workers < cap(sc.slots) {
		sc.workers++
		sc.handlers.Add(1)
		go sc.worker(req)
		return true
	}
	// Every worker exists and this request holds a slot, so one of them is
	// about to ask for work.
	sc.work <- req
	return true
}

func (sc *serverConn) worker(req request) {
	defer sc.handlers.Done()
	for open := true; open; req, open = <-sc.work {
		sc.handle(req)
		<-sc.slots
	}
}

// handle runs a worker's request.
func (sc *serverConn) handle(req request) {
	sc.answer(req.typ, req.version, req.id, req.payload.b)
	putBuffer(req.payload) // only now: the response may alias the payload
}

// answer runs the handler and queues its response.
func (sc *serverConn) answer(t MsgType, version uint8, id uint64, payload []byte) {
	sc.srv.stats.requests.Add(1)
	out, frame := responseBuffer()
	typ, resp, err := sc.srv.handler.Handle(sc.ctx, t, payload, frame[HeaderSize:])
	if sc.ctx.Err() != nil {
		// The connection is being torn down: the answer has no reader, and
		// an error caused by the cancellation must not reach the client as
		// the handler's verdict.
		putBuffer(out)
		return
	}
	out.b = sc.responseFrame(t, version, id, frame, typ, resp, err)
	sc.out.send(out, sc.ctx.Done())
}

// responseBuffer returns a pooled buffer and its first HeaderSize bytes,
// reserved for the response's header; a handler appends after them.
func responseBuffer() (*buffer, []byte) {
	out := getBuffer()
	if cap(out.b) <= HeaderSize {
		out.b = make([]byte, 0, pooledBufferSize)
	}
	return out, out.b[:HeaderSize]
}

// answerInline sends ServerOptions.Inline's answer to the request, if it
// gives one.
func (sc *serverConn) answerInline(h Header, p []byte) bool {
	out, frame := responseBuffer()
	typ, resp, ok := sc.srv.opts.Inline(h.Type, p, frame[HeaderSize:])
	if !ok {
		putBuffer(out)
		return false
	}
	sc.srv.stats.requests.Add(1)
	out.b = sc.responseFrame(h.Type, h.Version, h.ID, frame, typ, resp, nil)
	sc.out.send(out, sc.ctx.Done())
	return true
}

// responseFrame completes frame, whose first HeaderSize bytes are reserved
// for the header, as the response to request id. A handler that appended to the
// dst it was given left its payload in place after the header; any other
// payload is copied.
func (sc *serverConn) responseFrame(reqType MsgType, version uint8, id uint64, frame []byte, typ MsgType, resp []byte, err error) []byte {
	s := sc.srv
	switch {
	case err != nil:
	case typ.Reserved():
		err = fmt.Errorf("wire: handler returned reserved response type %d", typ)
	case len(resp) > s.opts.MaxPayload:
		err = fmt.Errorf("%w: %d-byte response, limit %d", ErrFrameTooLarge, len(resp), s.opts.MaxPayload)
	}
	flags := FlagResponse
	if err != nil {
		s.stats.handlerErrors.Add(1)
		typ, flags = reqType, FlagResponse|FlagError
		resp = appendErrorPayload(frame[HeaderSize:], err)
	}
	if len(resp) > 0 && &resp[0] == &frame[:HeaderSize+1][HeaderSize] {
		frame = frame[:HeaderSize+len(resp)]
	} else {
		frame = append(frame, resp...)
	}
	sealFrame(frame, Header{Version: version, Type: typ, Flags: flags, ID: id})
	return frame
}
