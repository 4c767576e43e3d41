package server

import (
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/dynamo-kv/dynamo/protocol/memcache"
)

// Bounds on one batch, so that one pipelining client neither hogs a worker
// nor makes the loop copy unbounded input at once. Whatever is left is
// parsed when the batch completes.
// A batch also stops executing once its replies pass maxBatchOutput: 256
// gets of a 900 KB value made 230 MB of replies in one batch, which held
// an event loop for seconds under the race detector while the socket went
// unread. The commands left over are parsed again with the next batch.
const (
	maxBatchCommands = 256
	maxBatchBytes    = 1 << 20
	maxBatchOutput   = maxPendingOutput
)

// Backpressure. gnet cannot pause reading a socket, so a client that keeps
// sending while its replies pile up is handled in two steps: while more
// than maxPendingOutput bytes of replies wait for the socket, no more input
// is parsed (the connection is woken again shortly); and a connection whose
// unparsed input exceeds the pending-input cap is closed, where memcached
// would instead stop reading and let TCP flow control hold the client.
const (
	maxPendingOutput = 4 << 20
	minPendingInput  = 64 << 20 // the cap is this or 4 items, whichever is larger
	backoffDelay     = time.Millisecond
)

const tooManyConns = "ERROR Too many open connections\r\n"

// conn is the per-connection state. parser and the batch fields are owned
// by the connection's event loop; inflight and lastActive are also read by
// the idle reaper.
type conn struct {
	parser     memcache.Parser
	inflight   atomic.Bool
	lastActive atomic.Int64 // unix nanos of the last command parsed or finished
	current    *batch       // the batch in flight, if any
	backoff    atomic.Bool  // a wake is scheduled while replies drain
	authed     atomic.Bool  // authenticated (with Options.Auth)
}

// batch is the unit handed to a worker: a private copy of the consumed
// input, the commands parsed from it, and the reply bytes.
type batch struct {
	in       []byte
	cmds     []memcache.Command
	ends     []commandEnd // per command: where its input ends, the parser after it
	out      []byte
	consumed int
	resume   memcache.ParserState // the parser's state at consumed
	spilled  int                  // reply bytes already sent ahead by Spill
	close    bool                 // close the connection after the reply (quit, HTTP, overlong line)
	ready    chan struct{}        // signalled when out is complete
	conn     gnet.Conn            // set while a worker runs the batch, for Spill
	srv      *Server
	authed   *atomic.Bool // the connection's, when it must authenticate; nil otherwise

	// Running commands concurrently (executeConcurrently).
	planner memcache.Planner
	waves   []int
	outs    [][]byte // per command of the window: its reply
	lo      int      // the window's first command: outs[i] is b.cmds[lo+i]'s
	wave    []int    // the commands of the wave running
	runWave func(i int)
}

// commandEnd is where one parsed command's input ends and what the parser
// carried past it, so a batch cut short can be resumed there.
type commandEnd struct {
	consumed int
	parser   memcache.ParserState
}

// handler adapts Server to gnet's callbacks without exporting them.
type handler struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.s.boot(eng)
	return gnet.None
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	if s.draining.Load() {
		return nil, gnet.Close
	}
	// Loops open connections concurrently: reserve the slot, then check.
	if s.curr.Add(1) > int64(s.opts.MaxConns) {
		s.curr.Add(-1)
		s.rejected.Add(1)
		return []byte(tooManyConns), gnet.Close
	}
	s.total.Add(1)
	st := &conn{}
	st.parser.Reset(s.opts.MaxItemSize)
	st.lastActive.Store(s.opts.Now().UnixNano())
	c.SetContext(st)
	if s.opts.IdleTimeout > 0 {
		s.conns.Lock()
		s.conns.m[st] = c
		s.conns.Unlock()
	}
	return nil, gnet.None
}

func (h *handler) OnClose(c gnet.Conn, _ error) gnet.Action {
	s := h.s
	st, ok := c.Context().(*conn)
	if !ok {
		return gnet.None
	}
	s.curr.Add(-1)
	if s.opts.IdleTimeout > 0 {
		s.conns.Lock()
		delete(s.conns.m, st)
		s.conns.Unlock()
	}
	if b := st.current; b != nil {
		// The client half-closed (or reset) while a batch ran. gnet closes
		// the socket right after this callback but flushes what is
		// buffered first, so hand over the replies if they are ready soon.
		select {
		case <-b.ready:
			_, _ = c.Write(b.out)
			s.bytesWritten.Add(uint64(len(b.out)))
		case <-time.After(s.opts.CloseWait):
		}
	}
	return gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	st, ok := c.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	for {
		action, more := h.s.step(c, st)
		if !more {
			return action
		}
	}
}

// step parses one batch from the buffered input. Batches that need no
// storage are answered here, on the loop (more reports whether to parse
// again); others go to a worker.
func (s *Server) step(c gnet.Conn, st *conn) (action gnet.Action, more bool) {
	if c.InboundBuffered() > s.maxPendingInput {
		return gnet.Close, false
	}
	if st.inflight.Load() {
		return gnet.None, false
	}
	if s.draining.Load() {
		return gnet.Close, false
	}
	if c.OutboundBuffered() > maxPendingOutput {
		if st.backoff.CompareAndSwap(false, true) {
			time.AfterFunc(backoffDelay, func() {
				st.backoff.Store(false)
				_ = c.Wake(nil)
			})
		}
		return gnet.None, false
	}
	buf, _ := c.Peek(-1)
	if len(buf) == 0 {
		return gnet.None, false
	}
	b := s.batches.Get().(*batch)
	b.authed = s.authGate(&st.authed)
	needsStorage, full := s.parseBatch(st, buf, b)
	if b.consumed == 0 {
		close := b.close
		s.putBatch(b)
		if close {
			return gnet.Close, false
		}
		return gnet.None, false
	}
	st.lastActive.Store(s.opts.Now().UnixNano())
	s.bytesRead.Add(uint64(b.consumed))
	b.in = append(b.in[:0], buf[:b.consumed]...)
	for i := range b.cmds {
		b.cmds[i].Rebase(buf, b.in)
	}
	if !needsStorage || s.inlineReads(b) {
		sess := s.sessions.Get().(*memcache.Session)
		b.out = s.execute(sess, b, false)
		s.sessions.Put(sess)
		_, _ = c.Write(b.out)
		s.bytesWritten.Add(uint64(len(b.out)))
		_, _ = c.Discard(b.consumed)
		st.parser.Restore(b.resume)
		close := b.close
		s.putBatch(b)
		if close {
			return gnet.Close, false
		}
		return gnet.None, full
	}
	st.inflight.Store(true)
	st.current = b
	s.inflight.Add(1)
	s.workers.submit(s, task{c: c, st: st, b: b})
	return gnet.None, false
}

// parseBatch parses commands from buf into b until the input runs out or
// the batch is full.
func (s *Server) parseBatch(st *conn, buf []byte, b *batch) (needsStorage, full bool) {
	b.cmds, b.ends, b.consumed, b.close = b.cmds[:0], b.ends[:0], 0, false
	defer func() { b.resume = st.parser.State() }()
	for {
		if len(b.cmds) >= maxBatchCommands || b.consumed >= maxBatchBytes {
			return needsStorage, true
		}
		if len(b.cmds) < cap(b.cmds) {
			b.cmds = b.cmds[:len(b.cmds)+1]
		} else {
			b.cmds = append(b.cmds, memcache.Command{})
		}
		cmd := &b.cmds[len(b.cmds)-1]
		n, err := st.parser.Next(buf[b.consumed:], cmd)
		if err != nil || n == 0 {
			b.cmds = b.cmds[:len(b.cmds)-1]
			b.close = err != nil
			return needsStorage, false
		}
		b.consumed += n
		switch {
		case cmd.Op == memcache.OpNone:
			b.cmds = b.cmds[:len(b.cmds)-1]
			continue
		}
		b.ends = append(b.ends, commandEnd{b.consumed, st.parser.State()})
		switch {
		case cmd.Op == memcache.OpQuit || cmd.Op == memcache.OpClose:
			b.close = true
			return needsStorage, false
		case cmd.Op.NeedsStorage():
			needsStorage = true
		}
	}
}

// execute runs the batch's commands and returns their replies. Once the
// replies pass maxBatchOutput it stops, and the batch consumes only the
// input of the commands it ran; the loop parses the rest again later.
// off reports whether it runs off the event loop, where commands may
// wait and so may run concurrently (Options.ConcurrentBatches).
func (s *Server) execute(sess *memcache.Session, b *batch, off bool) []byte {
	if off && s.opts.ConcurrentBatches && b.authed == nil && len(b.cmds) > 1 {
		return s.executeConcurrently(sess, b)
	}
	out := b.out[:0]
	b.spilled = 0
	for i := range b.cmds {
		out = b.spillIfLarge(s.run(sess, &b.cmds[i], b.authed, out))
		if b.cutAfter(i, len(out)) {
			break
		}
	}
	return out
}

// spillIfLarge sends the replies so far ahead of the rest once they are
// large, when the batch runs on a worker (Spill).
func (b *batch) spillIfLarge(out []byte) []byte {
	if b.conn != nil && len(out) >= memcache.SpillBytes {
		return b.Spill(out)
	}
	return out
}

// cutAfter ends the batch after command i when its replies (pending
// bytes besides those spilled) have reached maxBatchOutput and commands
// are left: it then consumes only the input up to i's end. It reports
// whether it cut.
func (b *batch) cutAfter(i, pending int) bool {
	if b.spilled+pending < maxBatchOutput || i+1 >= len(b.cmds) {
		return false
	}
	b.consumed, b.resume, b.close = b.ends[i].consumed, b.ends[i].parser, false
	return true
}

// concurrentWindow is the most commands run at once. Their replies are
// held until every command before them has replied, so it is bounded by
// the memory that many largest items take (maxWindowBytes).
const (
	concurrentWindow = 32
	maxWindowBytes   = 32 << 20
)

// executeConcurrently is execute for a batch whose commands wait on the
// network. It takes the batch a window of commands at a time and runs
// each window wave by wave (memcache.Planner): the commands of a wave at
// once, each into a reply of its own, the replies appended in request
// order. A barrier runs alone with sess, whose Sink may stream its reply,
// after the replies before it are in out. The output cap is checked
// between windows: a window's commands have all run.
func (s *Server) executeConcurrently(sess *memcache.Session, b *batch) []byte {
	out := b.out[:0]
	b.spilled = 0
	window := max(1, min(concurrentWindow, maxWindowBytes/s.opts.MaxItemSize))
	take := func(out []byte, i int) []byte { // command i's reply, into out
		return b.spillIfLarge(append(out, b.outs[i-b.lo]...))
	}
	for lo := 0; lo < len(b.cmds); {
		hi := min(lo+window, len(b.cmds))
		var waves int
		waves, b.waves = b.planner.Plan(b.cmds[lo:hi], b.waves)
		for len(b.outs) < hi-lo {
			b.outs = append(b.outs, nil)
		}
		b.lo = lo
		next := lo // the first command whose reply is not in out
		for w := range waves {
			b.wave = b.wave[:0]
			for i, cw := range b.waves {
				if cw == w {
					b.wave = append(b.wave, lo+i)
				}
			}
			if first := b.wave[0]; memcache.Barrier(&b.cmds[first]) {
				for ; next < first; next++ {
					out = take(out, next)
				}
				out = s.run(sess, &b.cmds[first], nil, out)
				next++
				continue
			}
			s.fanout(len(b.wave), b.runWave)
		}
		for ; next < hi; next++ {
			out = take(out, next)
		}
		if b.cutAfter(hi-1, len(out)) {
			break
		}
		lo = hi
	}
	return out
}

// runCommand runs b.cmds[i] into its reply buffer, on a session of its own.
func (s *Server) runCommand(b *batch, i int) {
	sess := s.sessions.Get().(*memcache.Session)
	b.outs[i-b.lo] = s.run(sess, &b.cmds[i], nil, b.outs[i-b.lo][:0])
	s.sessions.Put(sess)
}

// newBatch is the batch pool's New.
func (s *Server) newBatch() any {
	b := &batch{ready: make(chan struct{}, 1)}
	b.runWave = func(i int) { s.runCommand(b, b.wave[i]) }
	return b
}

// authGate is the connection's authentication state when commands must
// pass the gate: nil once authenticated, or when Options.Auth is unset.
func (s *Server) authGate(authed *atomic.Bool) *atomic.Bool {
	if s.opts.Auth == nil || authed.Load() {
		return nil
	}
	return authed
}

// run executes one command, or hands it to the authentication gate while
// the connection has not passed it (authed not nil and false).
func (s *Server) run(sess *memcache.Session, cmd *memcache.Command, authed *atomic.Bool, out []byte) []byte {
	if authed == nil || authed.Load() {
		return s.exec.Execute(sess, cmd, out)
	}
	out, in := s.exec.Authenticate(cmd, out)
	if in {
		authed.Store(true)
	}
	return out
}

// Spill implements memcache.ReplySink for a batch running on a worker: a
// large reply goes out ahead of the rest of the batch. AsyncWrites from one
// goroutine reach the loop in order, so replies stay ordered.
func (b *batch) Spill(reply []byte) []byte {
	n := uint64(len(reply))
	b.spilled += len(reply)
	_ = b.conn.AsyncWrite(reply, func(gnet.Conn, error) error {
		b.srv.bytesWritten.Add(n)
		return nil
	})
	return make([]byte, 0, 64<<10) // reply belongs to the write until it is done
}

// work runs a batch off the event loop and sends its replies.
func (s *Server) work(c gnet.Conn, st *conn, b *batch) {
	sess := s.sessions.Get().(*memcache.Session)
	b.conn, b.srv = c, s
	sess.Sink, sess.Fanout = b, s.blockingFanout
	b.out = s.execute(sess, b, true)
	sess.Sink, sess.Fanout = nil, nil
	b.conn = nil
	s.sessions.Put(sess)
	b.ready <- struct{}{}
	err := c.AsyncWrite(b.out, func(c gnet.Conn, err error) error {
		s.finish(c, st, b, err)
		return nil
	})
	if err != nil {
		// The engine is stopping; no callback will come.
		s.inflight.Add(-1)
	}
}

// finish runs on the event loop once a batch's replies are written.
func (s *Server) finish(c gnet.Conn, st *conn, b *batch, err error) {
	defer s.inflight.Add(-1)
	st.current = nil
	st.inflight.Store(false)
	if err != nil {
		s.putBatch(b)
		return
	}
	s.bytesWritten.Add(uint64(len(b.out)))
	st.lastActive.Store(s.opts.Now().UnixNano())
	_, _ = c.Discard(b.consumed)
	st.parser.Restore(b.resume)
	close := b.close
	s.putBatch(b)
	switch {
	case close:
		_ = c.Close()
	case c.InboundBuffered() > 0:
		_ = c.Wake(nil)
	}
}

// putBatch recycles b, dropping buffers a huge batch left behind.
func (s *Server) putBatch(b *batch) {
	const keep = 4 << 20
	if cap(b.in) > keep {
		b.in = nil
	}
	if cap(b.out) > keep {
		b.out = nil
	}
	for i := range b.outs {
		if cap(b.outs[i]) > keep/16 {
			b.outs[i] = nil
		}
	}
	select {
	case <-b.ready:
	default:
	}
	b.consumed, b.close = 0, false
	s.batches.Put(b)
}

// inlineReads reports whether every command of b is a plain read whose keys
// the engine holds in memory, so the batch can run on the event loop and
// skip the hand-off to a worker and back. Anything that writes, or a key
// that may need the store, goes to a worker.
func (s *Server) inlineReads(b *batch) bool {
	if s.cached == nil {
		return false
	}
	for i := range b.cmds {
		cmd := &b.cmds[i]
		switch cmd.Op {
		case memcache.OpGet, memcache.OpGets, memcache.OpGetv:
			for _, k := range cmd.Keys {
				if !s.cached.Cached(k) {
					return false
				}
			}
		default:
			if cmd.Op.NeedsStorage() {
				return false
			}
		}
	}
	return true
}
