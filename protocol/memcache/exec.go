package memcache

import (
	"errors"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// DefaultVersion is what "version" and "stats" report unless Options.Version
// says otherwise. It keeps memcached's version first so that clients which
// gate features (meta commands) on it parse it as 1.6.18.
const DefaultVersion = "1.6.18-dynamo"

// Options configure an Executor. Zero values mean the documented default.
type Options struct {
	// Version is reported by "version" and "stats". Default DefaultVersion.
	Version string
	// Now is the clock for expiry times and "stats". Default time.Now.
	Now func() time.Time
	// MaxItemSize bounds values that append, prepend and incr create, as
	// the parser bounds stored ones. Default DefaultMaxItemSize.
	MaxItemSize int
	// Server supplies process and connection figures for "stats". Default
	// nil: those figures read as zero.
	Server ServerInfo
	// Retries bounds how often a read-modify-write command (append,
	// prepend, incr, decr, touch, gat, ma, md I) re-reads after another
	// writer changed the key between its read and its conditional write.
	// Default 16; after that the command answers SERVER_ERROR.
	Retries int
	// LeaseLimit bounds the table of win tokens and stale marks
	// (mg N/R, md I). Default 65536 entries.
	LeaseLimit int
	// Latency, when set, is told how long each data command took (two
	// clock reads and its Observe per command). Default nil: not timed.
	Latency LatencyRecorder
	// Auth, when set, requires every connection to authenticate first
	// (memcached's -Y; see auth.go). The server keeps each connection's
	// state and sends its commands to Authenticate until it is in.
	Auth *AuthFile
}

func (o *Options) ensureDefaults() {
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxItemSize <= 0 {
		o.MaxItemSize = DefaultMaxItemSize
	}
	if o.Retries <= 0 {
		o.Retries = 16
	}
	if o.LeaseLimit <= 0 {
		o.LeaseLimit = 65536
	}
}

// Executor runs parsed commands against an kv.KV and encodes the
// replies. It is safe for concurrent use; per-connection scratch space lives
// in a Session.
type Executor struct {
	kv      kv.KV
	opts    Options
	started time.Time
	stats   counters
	leases  *leaseTable
	access  *accessTable
	detail  prefixStats // stats detail
}

// NewExecutor returns an executor over kv.
func NewExecutor(kv kv.KV, opts Options) *Executor {
	opts.ensureDefaults()
	return &Executor{kv: kv, opts: opts, started: opts.Now(), leases: newLeaseTable(opts.LeaseLimit), access: newAccessTable(opts.LeaseLimit)}
}

// Session is the reusable scratch space of one goroutine executing commands:
// the object reads fill and the buffers values are built in. A Session is
// not safe for concurrent use; reuse one per worker to keep the hot path
// free of allocations.
type Session struct {
	// Sink, when set, takes replies that have grown past SpillBytes in the
	// middle of a multi-key command, so that a get of many large values
	// streams instead of being held whole (as memcached streams it).
	Sink ReplySink

	obj   kv.Object
	put   kv.PutRequest
	arith kv.Arith // what put.Arith points to for incr and decr

	// Per-command quorum overrides (meta flags r and w); 0 = the default.
	readQuorum, writeQuorum int
	key                     []byte // decoded binary key
	val                     []byte // value being built
	ctx                     []byte // decoded context

	// Fanout, when set, runs f(0), ..., f(n-1) at once and returns when
	// all have returned. A get or gets of several keys then reads them
	// at once, a window of fanoutWindow keys at a time, which pays where
	// a read waits on the network (a cluster coordinator). The server
	// sets it only where a command may block (never on an event loop).
	// Nil: the keys are read one after another.
	Fanout func(n int, f func(i int))

	// A multi-key get's reads, when they run at once (Fanout).
	objs []kv.Object
	errs []error
}

// SpillBytes is the reply size at which a multi-key command hands its
// reply so far to the Session's Sink.
const SpillBytes = 1 << 20

// ReplySink sends reply bytes ahead of the rest of a command's reply.
type ReplySink interface {
	// Spill sends reply, which the caller no longer touches, and returns
	// an empty buffer to continue appending to.
	Spill(reply []byte) []byte
}

// spill hands out to the sink once it is large, reporting whether it did.
func (s *Session) spill(out []byte) ([]byte, bool) {
	if s.Sink == nil || len(out) < SpillBytes {
		return out, false
	}
	return s.Sink.Spill(out), true
}

// errContention is reported when a read-modify-write lost to other writers
// Options.Retries times in a row.
var errContention = errors.New("memcache: too much contention on key")

// Execute runs cmd and appends its reply (possibly nothing) to out.
func (e *Executor) Execute(s *Session, cmd *Command, out []byte) []byte {
	now := e.opts.Now()
	if e.opts.Latency != nil {
		return e.timed(s, cmd, now, out)
	}
	return e.execute(s, cmd, now, out)
}

func (e *Executor) execute(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	s.readQuorum, s.writeQuorum = cmd.Meta.ReadQuorum, cmd.Meta.WriteQuorum
	switch cmd.Op {
	case OpNone, OpClose, OpQuit:
		return out
	case OpError:
		return e.line(out, cmd, cmd.Err)
	case OpVersion:
		out = append(out, "VERSION "...)
		out = append(out, e.opts.Version...)
		return append(out, "\r\n"...)
	case OpVerbosity:
		return e.line(out, cmd, "OK")
	case OpSlabs:
		return e.line(out, cmd, cmd.Err)
	case OpMetaNoop:
		return append(out, "MN\r\n"...)
	case OpGet, OpGets, OpGat, OpGats:
		return e.get(s, cmd, now, out)
	case OpSet, OpAdd, OpReplace, OpCas:
		return e.store(s, cmd, now, out)
	case OpAppend, OpPrepend:
		return e.concat(s, cmd, out)
	case OpDelete:
		return e.delete(s, cmd, out)
	case OpIncr, OpDecr:
		return e.arithmetic(s, cmd, out)
	case OpTouch:
		return e.touch(s, cmd, now, out)
	case OpFlushAll:
		return e.flushAll(cmd, now, out)
	case OpStats:
		return e.statsCommand(cmd, now, out)
	case OpMetaGet:
		return e.metaGet(s, cmd, now, out)
	case OpMetaSet:
		return e.metaSet(s, cmd, now, out)
	case OpMetaDelete:
		return e.metaDelete(s, cmd, now, out)
	case OpMetaArithmetic:
		return e.metaArithmetic(s, cmd, now, out)
	case OpMetaDebug:
		return e.metaDebug(s, cmd, now, out)
	case OpGetv:
		return e.getv(s, cmd, out)
	case OpPutv:
		return e.putv(s, cmd, now, out)
	case OpDelv:
		return e.delv(s, cmd, out)
	case OpAdmin:
		return e.admin(cmd, out)
	}
	return append(out, "ERROR\r\n"...)
}

// line appends msg as a reply line unless the command said noreply.
func (e *Executor) line(out []byte, cmd *Command, msg string) []byte {
	if cmd.NoReply {
		return out
	}
	out = append(out, msg...)
	return append(out, "\r\n"...)
}

// storageError maps an engine error to the reply line memcached would send;
// this is the only place engine errors become protocol text.
func storageError(err error) string {
	switch {
	case errors.Is(err, kv.ErrKeyTooLong):
		return errBadFormat
	case errors.Is(err, kv.ErrBadContext):
		return errBadContext
	case errors.Is(err, kv.ErrTooManySiblings):
		return "SERVER_ERROR too many concurrent versions of this key; read it and write back with its context"
	case errors.Is(err, kv.ErrBadQuorum):
		return "CLIENT_ERROR quorum must be between 1 and N"
	case errors.Is(err, errContention):
		return "SERVER_ERROR too much contention, try again"
	}
	return "SERVER_ERROR " + sanitize(err.Error())
}

// sanitize keeps an error message on one line.
func sanitize(msg string) string {
	b := []byte(msg)
	for i, c := range b {
		if c < ' ' || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}

// expiresAt turns a memcached exptime into absolute unix seconds as
// realtime() does: 0 never expires, negative is already expired, up to 30
// days is relative to now, anything larger is already a unix time.
func expiresAt(exptime int32, now time.Time) int64 {
	const maxDelta = 60 * 60 * 24 * 30
	switch {
	case exptime == 0:
		return 0
	case exptime < 0:
		return 1
	case exptime <= maxDelta:
		return now.Unix() + int64(exptime)
	}
	return int64(exptime)
}

// read fills s.obj with key and returns the value a classic client sees.
func (e *Executor) read(s *Session, key []byte) (*kv.Sibling, bool, error) {
	if err := e.getObj(s, key); err != nil {
		return nil, false, err
	}
	sib, ok := s.obj.Winner()
	return sib, ok, nil
}

// rewrite replaces the value just read into s.obj with s.put, conditioned on
// the CAS of that read, superseding every version.
func (e *Executor) rewrite(s *Session, key []byte) (kv.PutResult, error) {
	s.put.SupersedeAll = true
	s.put.Cond = kv.CondCAS
	s.put.CAS = s.obj.CAS
	return e.putReq(s, key)
}

// itemTooLarge is the parser's size rule for values built here.
func (e *Executor) itemTooLarge(key []byte, flags uint32, vlen int) bool {
	total := itemHeaderSize + len(key) + vlen + 2
	if flags != 0 {
		total += 4
	}
	return total > e.opts.MaxItemSize
}

// ttl is what the meta 't' flag reports: -1 for no expiry, else the seconds
// left.
func ttl(expires int64, now time.Time) int64 {
	if expires == 0 {
		return -1
	}
	return max(expires-now.Unix(), 0)
}

// admin serves "admin WORD [ARGS]": STAT lines and END, as stats does.
func (e *Executor) admin(cmd *Command, out []byte) []byte {
	a, ok := e.kv.(kv.Admin)
	if !ok {
		return append(out, "SERVER_ERROR admin commands need a cluster node\r\n"...)
	}
	args := make([]string, len(cmd.Keys))
	for i, k := range cmd.Keys {
		args[i] = string(k)
	}
	stats, err := a.Admin(args)
	switch {
	case errors.Is(err, kv.ErrAdminUsage):
		return append(append(append(out, "CLIENT_ERROR "...), sanitize(err.Error())...), "\r\n"...)
	case err != nil:
		return append(append(append(out, "SERVER_ERROR "...), sanitize(err.Error())...), "\r\n"...)
	}
	for _, st := range stats {
		out = append(out, "STAT "...)
		out = append(out, sanitize(st.Name)...)
		out = append(out, ' ')
		out = append(out, sanitize(st.Value)...)
		out = append(out, "\r\n"...)
	}
	return append(out, "END\r\n"...)
}

// getObj reads key into s.obj, with the command's read quorum if it set one
// (a single node has one replica and ignores it).
func (e *Executor) getObj(s *Session, key []byte) error {
	return e.kv.Get(key, &s.obj, kv.ReadOptions{R: s.readQuorum})
}

// putReq writes s.put, with the command's write quorum if it set one.
func (e *Executor) putReq(s *Session, key []byte) (kv.PutResult, error) {
	s.put.W = s.writeQuorum
	return e.kv.Put(key, &s.put)
}
