package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/client"
	"github.com/dynamo-kv/dynamo/loadgen/report"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
	"github.com/dynamo-kv/dynamo/protocol/ringclient"
)

// pending is one request on the wire, waiting for its reply.
type pending struct {
	kind     report.Kind // Get, Set, Delete, Getv or Putv
	key      uint64
	opStart  int64 // start of the user-level operation (a cart spans getv and putv)
	reqStart int64 // start of this request; 0 until stamped at flush (closed loop)
	measured bool  // started inside the measured window
}

// session is one connection and the workload state that drives it. Its
// fields belong to the goroutine(s) driving it; counters read by the
// progress reporter are atomic.
type session struct {
	id      int
	addr    string
	cfg     *Config
	shared  *sharedWorkload
	conn    *client.Conn
	broken  bool // conn failed and has not been replaced
	opRand  *rand.Rand
	itemRnd *rand.Rand // cart item ids; used by the receiver in open loop
	chooser workload.Chooser

	resp    client.Response
	keyBuf  []byte // sender side
	cartKey []byte // receiver side: the key of a cart's putv
	items   []uint32
	cartBuf []byte

	done   atomic.Int64 // user-level operations finished, failures included
	failed atomic.Int64 // of which failed
}

// sharedWorkload is the immutable part of the workload all sessions share.
type sharedWorkload struct {
	route   *ringclient.Router // nil unless Config.RingAware
	keys    workload.KeyChooser
	payload workload.Payload
	epoch   time.Time
}

func newSession(id int, addr string, cfg *Config, sh *sharedWorkload) *session {
	return &session{
		id: id, addr: addr, cfg: cfg, shared: sh,
		opRand:  rand.New(rand.NewPCG(cfg.Seed, uint64(id)*2+1)),
		itemRnd: rand.New(rand.NewPCG(cfg.Seed, uint64(id)*2+2)),
		chooser: workload.NewChooser(cfg.Mix),
		keyBuf:  make([]byte, 0, 64),
	}
}

func (s *session) connOptions() client.Options {
	return client.Options{Timeout: s.cfg.Timeout, Epoch: s.shared.epoch}
}

// dial opens a connection to the session's target and installs it.
func (s *session) dial(ctx context.Context) error {
	nc, err := s.dialConn(ctx)
	if err != nil {
		return err
	}
	s.install(nc)
	return nil
}

func (s *session) dialConn(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	nc, err := s.cfg.Dial(ctx, s.addr)
	if err != nil || s.cfg.Auth == "" {
		return nc, err
	}
	if err := login(ctx, nc, s.cfg.Auth); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

// install makes nc the session's connection. In open loop the caller holds
// the write-side lock.
func (s *session) install(nc net.Conn) {
	if s.conn == nil {
		s.conn = client.NewConn(nc, s.connOptions())
	} else {
		s.conn.SetConn(nc)
	}
	s.broken = false
}

// breakConn closes a failed connection; the session stays broken until a
// redial installs a new one.
func (s *session) breakConn() {
	if !s.broken {
		s.broken = true
		_ = s.conn.Close()
	}
}

// redial opens a new connection after a failure, backing off between
// attempts, until it succeeds (returning the connection for the caller to
// install) or stop is closed.
func (s *session) redial(ctx context.Context, stop <-chan struct{}) (net.Conn, bool) {
	backoff := 20 * time.Millisecond
	for {
		if nc, err := s.dialConn(ctx); err == nil {
			return nc, true
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return nil, false
		case <-ctx.Done():
			t.Stop()
			return nil, false
		}
		backoff = min(2*backoff, time.Second)
	}
}

// close closes the session's connection, if any.
func (s *session) close() {
	if s.conn != nil && !s.broken {
		_ = s.conn.Close()
	}
}

// reseed restarts the session's random streams for round r, so every
// target of a comparison sees the same operation sequence in a round.
func (s *session) reseed(r int) {
	s.opRand = rand.New(rand.NewPCG(s.cfg.Seed+uint64(r)<<32, uint64(s.id)*2+1))
	s.itemRnd = rand.New(rand.NewPCG(s.cfg.Seed+uint64(r)<<32, uint64(s.id)*2+2))
}

func (s *session) now() int64 { return int64(time.Since(s.shared.epoch)) }

// queueOp draws the next operation and appends its request to the write
// buffer.
func (s *session) queueOp(start int64, measured bool) pending {
	op := s.chooser.Next(s.opRand)
	key := s.shared.keys.Next(s.opRand)
	s.keyBuf = workload.AppendKey(s.keyBuf[:0], s.cfg.KeyPrefix, key)
	if s.shared.route != nil {
		// Client-driven: this connection's node coordinates only its own
		// keys, so draw until the key is one (a node owns ~1/nodes of them).
		for range 256 {
			if s.shared.route.RouteAddr(s.keyBuf) == s.addr {
				break
			}
			key = s.shared.keys.Next(s.opRand)
			s.keyBuf = workload.AppendKey(s.keyBuf[:0], s.cfg.KeyPrefix, key)
		}
	}
	e := pending{key: key, opStart: start, reqStart: start, measured: measured}
	switch op {
	case workload.Get:
		e.kind = report.Get
		s.conn.Get(s.keyBuf)
	case workload.Set:
		e.kind = report.Set
		value := s.shared.payload.Value(s.opRand, s.cfg.ValueSize.Next(s.opRand))
		s.conn.Set(s.keyBuf, 0, s.cfg.Exptime, value)
	case workload.Delete:
		e.kind = report.Delete
		s.conn.Delete(s.keyBuf)
	case workload.Cart:
		e.kind = report.Getv
		s.conn.Getv(s.keyBuf)
	}
	return e
}

// queuePutv appends the write half of a cart: the union of the siblings
// just read plus one new item, under the context just read.
func (s *session) queuePutv(e *pending) {
	s.items = s.items[:0]
	for _, sib := range s.resp.Siblings {
		if !sib.Deleted {
			s.items = workload.AppendItems(s.items, sib.Value)
		}
	}
	s.items = workload.MergeItems(s.items)
	s.items = workload.AddItem(s.items, uint32(s.itemRnd.Uint64N(1_000_000)), s.cfg.CartItems)
	s.cartBuf = workload.EncodeItems(s.cartBuf[:0], s.items)
	s.cartKey = workload.AppendKey(s.cartKey[:0], s.cfg.KeyPrefix, e.key)
	s.conn.Putv(s.cartKey, 0, s.cfg.Exptime, s.cartBuf, s.resp.Context)
}

// replyShape is the reply a request kind expects.
var replyShape = [report.NumKinds]client.Reply{
	report.Get: client.ReplyGet, report.Set: client.ReplyStore, report.Delete: client.ReplyDelete,
	report.Getv: client.ReplyGetv, report.Putv: client.ReplyPutv,
}

// account records the reply in s.resp to request e, received at readAt.
// It reports whether the user-level operation continues with a putv.
func (s *session) account(e *pending, readAt int64, rec *recorder) (continues bool) {
	st := s.resp.Status
	if st.IsError() {
		s.fail(e, errKindOf(st), rec)
		return false
	}
	if e.kind == report.Getv {
		if e.measured {
			rec.counters.AddSiblings(len(s.resp.Siblings))
		}
		s.succeed(e.kind, st, readAt-e.reqStart, e.measured, rec)
		return true
	}
	s.succeed(e.kind, st, readAt-e.reqStart, e.measured, rec)
	if e.kind == report.Putv {
		s.succeed(report.Cart, st, readAt-e.opStart, e.measured, rec)
	}
	s.done.Add(1)
	return false
}

func (s *session) succeed(k report.Kind, st client.Status, latency int64, measured bool, rec *recorder) {
	if !measured {
		return
	}
	c := &rec.counters
	c.OK[k]++
	switch st {
	case client.StatusMiss, client.StatusNotFound:
		c.Misses[k]++
	case client.StatusNotStored, client.StatusExists:
		c.NotStored[k]++
	}
	rec.latency(k, latency)
}

// fail counts e's operation as failed with class ek.
func (s *session) fail(e *pending, ek report.ErrKind, rec *recorder) {
	s.done.Add(1)
	s.failed.Add(1)
	if !e.measured {
		return
	}
	rec.counters.Errors[e.kind][ek]++
	if e.kind == report.Getv || e.kind == report.Putv {
		rec.counters.Errors[report.Cart][ek]++
	}
}

// failUnsent counts an operation of kind k that could not be sent because
// the connection was down.
func (s *session) failUnsent(k report.Kind, measured bool, rec *recorder) {
	e := pending{kind: k, measured: measured}
	if k == report.Cart {
		e.kind = report.Getv
	}
	s.fail(&e, report.ErrConn, rec)
}

func errKindOf(st client.Status) report.ErrKind {
	switch st {
	case client.StatusClientError:
		return report.ErrClient
	case client.StatusServerError:
		return report.ErrServer
	}
	return report.ErrCommand
}

// ioErrKind classifies a connection-level failure.
func ioErrKind(err error) report.ErrKind {
	switch {
	case errors.Is(err, client.ErrTimeout):
		return report.ErrTimeout
	case errors.Is(err, client.ErrProtocol):
		return report.ErrProtocol
	}
	return report.ErrConn
}

func (s *session) String() string { return fmt.Sprintf("conn %d to %s", s.id, s.addr) }
