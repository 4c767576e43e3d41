package engine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/engine/cache"
	"github.com/dynamo-kv/dynamo/engine/counter"
	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/hlc"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/pace"
	"github.com/dynamo-kv/dynamo/engine/record"
	"github.com/dynamo-kv/dynamo/engine/store"
)

// Engine is a node's versioned store. It implements KV.
type Engine struct {
	opts   Options
	st     Storage
	later  laterStorage // st, when it can defer durability waits; else nil
	actors actors
	clock  *hlc.Clock

	// locks serialise read-modify-write per key; a key maps to a stripe
	// by its hash.
	locks [4096]sync.Mutex

	flush flushState
	fence fence        // keys reaped here, against late older copies
	cache *cache.Cache // records by data key; see readRecord
	trees trees        // partition merkle trees kept on writes (trees.go)

	scratch sync.Pool // *scratch

	stats counters

	closeOnce sync.Once
	closed    atomic.Bool
	stop      chan struct{}
	reaperWG  sync.WaitGroup
	reapPacer pace.Pacer
}

var _ kv.KV = (*Engine)(nil)

// scratch holds per-call buffers so the hot path does not allocate.
type scratch struct {
	key  []byte
	raw  []byte
	enc  []byte
	rec  record.Record
	next record.Record // the record being written
	peer record.Record // a replica's record being merged in
	ctx  dvv.Context
	res  dvv.Context
	// waits are the writes made under a lock whose durability is still
	// to be awaited once it is released (see laterStorage).
	waits []store.Pending
}

// Open opens (or creates) the engine's store and starts its reaper.
func Open(opts Options) (*Engine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var err error
	st := opts.Storage
	if st == nil {
		if st, err = openStore(opts); err != nil {
			return nil, err
		}
	}
	e := &Engine{
		opts:    opts,
		st:      st,
		clock:   hlc.New(opts.Now),
		cache:   cache.New(max(opts.RecordCacheBytes, 0)),
		stop:    make(chan struct{}),
		scratch: sync.Pool{New: func() any { return new(scratch) }},
	}
	e.later, _ = st.(laterStorage)
	if err := e.loadMeta(); err != nil {
		st.Close()
		return nil, err
	}
	if err := e.countRecords(); err != nil {
		st.Close()
		return nil, err
	}
	e.reapPacer = pace.Pacer{Share: e.opts.ReapShare}
	if !opts.Replicated {
		e.reaperWG.Add(1)
		go e.reapLoop()
	}
	return e, nil
}

// Recovered reports whether this engine started a new incarnation: it did
// not shut down cleanly before (or its data directory is new), so it may
// have lost buffered writes that other replicas hold.
func (e *Engine) Recovered() bool { return !e.stats.actorReused }

// Actor is this incarnation of the node: the actor of its epoch 0, which
// no write uses; every actor this incarnation writes with shares its top
// 48 bits (see actorFor).
func (e *Engine) Actor() dvv.Actor { return dvv.Actor(e.actors.incarnation.Load() << epochBits) }

// Close stops the reaper, flushes the store and marks the shutdown clean.
// The caller must have stopped issuing requests.
func (e *Engine) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		close(e.stop)
		e.reaperWG.Wait()
		if err = e.saveActors(); err == nil {
			err = e.st.Set(metaClean, []byte{1}, kv.Sync)
		}
		err = errors.Join(err, e.st.Close())
	})
	return err
}

func (e *Engine) lockFor(hash uint64) *sync.Mutex { return &e.locks[hash%uint64(len(e.locks))] }

// lockRecord is the first step of every read-modify-write of one key:
// it checks the key and the engine, locks the key's stripe, and reads and
// decodes the key's record into s (s.key its data key, s.raw the stored
// bytes, s.rec the record, empty when found is false). On success the
// caller holds the returned lock and must unlock it; on error nothing is
// held. A record that does not decode is an error wrapping
// record.ErrCorrupt.
func (e *Engine) lockRecord(key []byte, s *scratch) (mu *sync.Mutex, found bool, err error) {
	if len(key) == 0 || len(key) > kv.MaxKeyLen {
		return nil, false, kv.ErrKeyTooLong
	}
	if e.closed.Load() {
		return nil, false, kv.ErrClosed
	}
	hash := hashKey(key)
	s.key = appendDataKey(s.key[:0], hash, key)
	mu = e.lockFor(hash)
	mu.Lock()
	s.raw, found, err = e.readRecord(s.key, s.raw[:0])
	s.rec.Reset()
	if err == nil && found {
		if derr := record.Decode(&s.rec, s.raw); derr != nil {
			err = fmt.Errorf("engine: key %q: %w", key, derr)
		}
	}
	if err != nil {
		mu.Unlock()
		return nil, false, err
	}
	return mu, found, nil
}

func (e *Engine) now() time.Time { return e.opts.Now() }

// Get implements kv.KV. A node holds one replica, so a read quorum has
// nothing to change.
func (e *Engine) Get(key []byte, o *kv.Object, _ kv.ReadOptions) error {
	o.Reset()
	if len(key) == 0 || len(key) > kv.MaxKeyLen {
		return kv.ErrKeyTooLong
	}
	if e.closed.Load() {
		return kv.ErrClosed
	}
	s := e.scratch.Get().(*scratch)
	defer e.scratch.Put(s)
	s.key = appendDataKey(s.key[:0], hashKey(key), key)
	raw, found, err := e.readRecord(s.key, s.raw[:0])
	s.raw = raw
	if err != nil || !found {
		return err
	}
	if err := record.Decode(&s.rec, raw); err != nil {
		return fmt.Errorf("engine: key %q: %w", key, err)
	}
	e.fillObject(o, key, &s.rec)
	return nil
}

// fillObject copies the visible part of rec into o, which owns the copies.
// A counter version reads as its lineage's merged value.
func (e *Engine) fillObject(o *kv.Object, key []byte, rec *record.Record) {
	now := e.now()
	size := 0
	counters := false
	for i := range rec.Siblings {
		if rs := &rec.Siblings[i]; e.visible(rs, now) {
			size += len(rs.Value)
			counters = counters || rs.Counter != nil
		}
	}
	if counters {
		size += 24 * len(rec.Siblings)
	}
	o.Grow(size)
	unix := now.Unix()
	for i := range rec.Siblings {
		rs := &rec.Siblings[i]
		if e.flush.covers(rs.Timestamp, now) {
			continue
		}
		s := kv.Sibling{
			Value:     rs.Value,
			Flags:     rs.Flags,
			Expires:   rs.Expires,
			Timestamp: rs.Timestamp,
			Deleted:   rs.Deleted,
		}
		if rs.Expires != 0 && rs.Expires <= unix {
			// Expired: it reads as the tombstone it now is, so that an
			// older concurrent value it won over stays hidden (see winner).
			s.Value, s.Flags, s.Deleted = nil, 0, true
			o.AppendSibling(s)
			continue
		}
		if rs.Counter != nil {
			var num [24]byte // on the stack: 2^64 has 20 digits; only a wider padding allocates
			_, v, width := e.lineage(rec, rs, now)
			s.Value = counter.Render(num[:0], v, width)
		}
		o.AppendSibling(s)
	}
	o.Context = dvv.AppendClock(o.Context[:0], rec.Clock)
	o.CAS = e.casOf(key, rec, now)
}

// lineage merges the visible counter versions of rec that share c's base:
// their merged totals, the value they read, and the width to render it
// at (that of the latest of them).
func (e *Engine) lineage(rec *record.Record, c *record.Sibling, now time.Time) ([]record.CounterEntry, uint64, int) {
	var group [8]*record.Counter
	cs := group[:0]
	width, latest := 0, uint64(0)
	for i := range rec.Siblings {
		s := &rec.Siblings[i]
		if s.Counter == nil || s.Counter.BaseDot != c.Counter.BaseDot || !e.visible(s, now) {
			continue
		}
		cs = append(cs, s.Counter)
		if s.Timestamp >= latest {
			latest, width = s.Timestamp, int(s.Counter.Width)
		}
	}
	merged := counter.Merge(nil, cs...)
	return merged, counter.Value(c.Counter.Base, merged), width
}

// casOf is memcached's cas unique of key in state rec: a digest of the key
// and of the origin of every visible version, never 0. The origin of a
// value is the write that made it, kept by a touch, so a touch leaves the
// cas unchanged while any other write changes it; the key makes two keys
// in the same causal state differ. It must be the same on every node for
// the same record: 64-bit multiply-xorshift mixing (the finalizer of
// splitmix64). Accidental collisions are ~2^-64; cas guards against lost
// updates, not attackers, who could only make their own cas succeed.
// BLAKE3 here cost a fifth of a get's CPU in profiles.
func (e *Engine) casOf(key []byte, rec *record.Record, now time.Time) uint64 {
	h := mix64(hashKey(key) ^ 0x9e3779b97f4a7c15)
	n := 0
	for i := range rec.Siblings {
		s := &rec.Siblings[i]
		if !e.visible(s, now) {
			continue
		}
		o := s.CASOrigin()
		h = mix64(h ^ uint64(o.Actor))
		h = mix64(h ^ o.Counter)
		n++
	}
	if n == 0 {
		return 0
	}
	if h == 0 {
		h = 1
	}
	return h
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// visible reports whether a stored sibling is still readable: not expired
// and not invalidated by flush_all.
func (e *Engine) visible(s *record.Sibling, now time.Time) bool {
	if s.Expires != 0 && s.Expires <= now.Unix() {
		return false
	}
	return !e.flush.covers(s.Timestamp, now)
}

// winner is the version a classic client sees (the sibling with the
// greatest timestamp, the smallest dot on a tie) and whether it is a live
// value; nil when every sibling was flushed. An expired version takes part
// as the tombstone it has become: it was written after any concurrent
// version it won over, so when it expires the key is gone, and the older
// value does not come back. Flushed versions drop out: every one is older
// than any write after the flush.
func (e *Engine) winner(rec *record.Record, now time.Time) (*record.Sibling, bool) {
	var best *record.Sibling
	for i := range rec.Siblings {
		s := &rec.Siblings[i]
		if !e.flush.covers(s.Timestamp, now) && (best == nil || s.Timestamp > best.Timestamp) {
			best = s
		}
	}
	return best, best != nil && !best.Deleted && e.visible(best, now)
}

// live reports whether rec has a value a classic client would see.
func (e *Engine) live(rec *record.Record, now time.Time) bool {
	_, ok := e.winner(rec, now)
	return ok
}

// Put implements KV.
func (e *Engine) Put(key []byte, req *kv.PutRequest) (kv.PutResult, error) {
	res, _, err := e.put(key, req, nil, false, nil)
	return res, err
}

// PutRecord is Put for a coordinator: it also appends the key's new
// record to recDst, for replication to the other replicas, and records a
// hint for each of owed (owners the write will not reach) under the same
// lock, before the write, so that no reader of the record finds it
// without its hints.
func (e *Engine) PutRecord(key []byte, req *kv.PutRequest, recDst []byte, owed ...string) (kv.PutResult, []byte, error) {
	return e.put(key, req, recDst, true, owed)
}

func (e *Engine) put(key []byte, req *kv.PutRequest, recDst []byte, wantRecord bool, owed []string) (kv.PutResult, []byte, error) {
	s := e.scratch.Get().(*scratch)
	defer e.scratch.Put(s)
	defer s.dropWaits()
	res, recDst, err := e.putLocked(key, req, recDst, wantRecord, owed, s)
	if werr := s.await(); err == nil && werr != nil {
		return kv.PutResult{}, recDst, werr
	}
	return res, recDst, err
}

// putLocked is put under the key's lock; the durability the write asks
// for is awaited after it is released.
func (e *Engine) putLocked(key []byte, req *kv.PutRequest, recDst []byte, wantRecord bool, owed []string, s *scratch) (kv.PutResult, []byte, error) {
	mu, found, err := e.lockRecord(key, s)
	if err != nil {
		return kv.PutResult{}, recDst, err
	}
	defer mu.Unlock()
	raw := s.raw
	now := e.now()
	if err := e.check(key, req, &s.rec, now); err != nil {
		return kv.PutResult{}, recDst, err
	}
	win, live := e.winner(&s.rec, now)
	supersedeAll := req.SupersedeAll || req.Touch || req.Arith != nil
	if (req.Touch || req.Arith != nil) && !live {
		return kv.PutResult{}, recDst, kv.ErrNotFound
	}

	ctx := &s.ctx
	ctx.Clock, ctx.Dots = append(ctx.Clock[:0], s.rec.Clock...), ctx.Dots[:0]
	if !supersedeAll {
		if *ctx, err = dvv.DecodeContext(*ctx, req.Context); err != nil {
			return kv.PutResult{}, recDst, kv.ErrBadContext
		}
	}
	actor, err := e.actorFor(key, s.rec.Clock)
	if err != nil {
		return kv.PutResult{}, recDst, err
	}
	ts := e.clock.Now()
	dot := dvv.NextDot(s.rec.Clock, *ctx, actor)
	next := &s.next
	next.Reset()
	// Every Record in scratch owns its clock's backing array, so this
	// cannot overwrite rec.Clock or ctx.
	next.Clock = dvv.Advance(next.Clock, s.rec.Clock, ctx.Clock, dot)
	for _, sib := range s.rec.Siblings {
		// Superseded versions go; so do dead ones (their dots stay in the
		// clock, so replicas drop them too), unless newer than this write:
		// an expired version hides the older ones (see winner).
		if dvv.Survives(*ctx, sib.Dot) && (e.visible(&sib, now) || sib.Timestamp > ts) {
			next.Siblings = append(next.Siblings, sib)
		}
	}
	if len(next.Siblings)+1 > e.opts.MaxSiblings {
		e.stats.siblingCapHits.Add(1)
		return kv.PutResult{}, recDst, kv.ErrTooManySiblings
	}
	ns := record.Sibling{
		Dot:       dot,
		Timestamp: ts,
		Flags:     req.Flags,
		Expires:   req.Expires,
		Deleted:   req.Delete,
	}
	res := kv.PutResult{Live: live}
	switch {
	case req.Touch:
		ns.Flags, ns.Value, ns.Origin = win.Flags, win.Value, win.CASOrigin()
		res.PrevExpires = win.Expires
		if win.Counter != nil {
			// The touch supersedes every version of the lineage: carry
			// their merged totals, or concurrent increments would go.
			entries, _, width := e.lineage(&s.rec, win, now)
			ns.Value = nil
			ns.Counter = &record.Counter{Base: win.Counter.Base, BaseDot: win.Counter.BaseDot, Width: uint32(width), Entries: entries}
		}
	case req.Arith != nil:
		if ns.Counter, res.Number, err = e.arith(&s.rec, win, actor, req.Arith, now); err != nil {
			return kv.PutResult{}, recDst, err
		}
		ns.Flags, res.PrevExpires = win.Flags, win.Expires
		if !req.Arith.SetExpires {
			ns.Expires = win.Expires
		}
	case !req.Delete:
		ns.Value = req.Value
	}
	next.Siblings = append(next.Siblings, ns)
	next.Sort()

	s.enc = record.Append(s.enc[:0], next)
	d := req.Durability
	if d == kv.DurabilityDefault {
		d = e.opts.Durability
	}
	for _, owner := range owed {
		if err := e.addHintLocked(s, owner, key, d); err != nil {
			return kv.PutResult{}, recDst, err
		}
	}
	if err := e.writeRecord(s, s.key, oldRecord(found, raw), s.enc, d); err != nil {
		return kv.PutResult{}, recDst, err
	}
	e.observe(Event{What: EventPut, Key: key, Record: s.enc, Dot: dot})
	e.stats.replaced(len(s.key), found, found && hasValue(&s.rec), len(raw), true, hasValue(next), len(s.enc))
	e.stats.puts.Add(1)

	if supersedeAll {
		res.Context = dvv.AppendClock(nil, next.Clock)
	} else {
		s.res = ctx.With(s.res, dot)
		res.Context = dvv.AppendContext(nil, s.res)
	}
	res.CAS = e.casOf(key, next, now)
	if wantRecord {
		recDst = append(recDst, s.enc...)
	}
	return res, recDst, nil
}

// Durability is the node's mode for writes that name none.
func (e *Engine) Durability() kv.Durability { return e.opts.Durability }

// Now is the engine's wall clock (Options.Now).
func (e *Engine) Now() time.Time { return e.now() }

// arith applies an incr or decr by actor to the winning version win of
// rec and returns the new counter version and its value. A plain value
// starts a lineage with itself as the base; a counter continues its
// lineage with every visible version of it merged.
func (e *Engine) arith(rec *record.Record, win *record.Sibling, actor dvv.Actor, a *kv.Arith, now time.Time) (*record.Counter, uint64, error) {
	c := &record.Counter{}
	var entries []record.CounterEntry
	var cur uint64
	width := 0
	if win.Counter != nil {
		c.Base, c.BaseDot = win.Counter.Base, win.Counter.BaseDot
		entries, cur, width = e.lineage(rec, win, now)
	} else {
		v, ok := counter.ParseUint64(win.Value)
		if !ok || len(win.Value) == 0 {
			return nil, 0, kv.ErrNotNumber
		}
		c.Base, c.BaseDot, cur, width = v, win.Dot, v, len(win.Value)
	}
	var next uint64
	c.Entries, next = counter.Apply(entries, actor, cur, a.Delta, a.Decr)
	// memcached: a result no longer than the old value is padded to its
	// length; a longer one takes its own.
	c.Width = uint32(counter.Width(width, next))
	return c, next, nil
}

// check applies a write's condition to the key's current record.
func (e *Engine) check(key []byte, req *kv.PutRequest, rec *record.Record, now time.Time) error {
	switch req.Cond {
	case kv.CondNone:
		return nil
	case kv.CondAbsent:
		if e.live(rec, now) {
			return kv.ErrNotStored
		}
	case kv.CondPresent:
		if !e.live(rec, now) {
			return kv.ErrNotStored
		}
	case kv.CondCAS:
		if !e.live(rec, now) {
			return kv.ErrNotFound
		}
		if e.casOf(key, rec, now) != req.CAS {
			return kv.ErrExists
		}
	default:
		return fmt.Errorf("engine: unknown condition %d", req.Cond)
	}
	return nil
}

// hasValue reports whether a record holds any non-tombstone sibling; such
// records count as items in stats.
func hasValue(r *record.Record) bool {
	for i := range r.Siblings {
		if !r.Siblings[i].Deleted {
			return true
		}
	}
	return false
}

// readRecord appends the stored record under dataKey to dst, from the
// record cache when it has it.
func (e *Engine) readRecord(dataKey, dst []byte) ([]byte, bool, error) {
	// The cache is keyed by the client's key, so Cached needs no hash.
	if v, ok := e.cache.Get(userKey(dataKey), dst); ok {
		return v, true, nil
	}
	return e.readStored(dataKey, dst)
}

// readStored is readRecord's miss: it reads the store and fills the
// cache, unless a write reached the key's shard meanwhile.
func (e *Engine) readStored(dataKey, dst []byte) ([]byte, bool, error) {
	ck := userKey(dataKey)
	epoch := e.cache.Epoch(ck)
	v, found, err := e.st.Get(dataKey, dst)
	if err == nil && found {
		e.cache.Fill(ck, v[len(dst):], epoch)
	}
	return v, found, err
}

// writeRecord stores a record in place of old (nil: none) and then
// updates the cache, under the key's lock, so the cache never holds a
// record older than the store's; the key's partition tree follows (see
// trees.go).
func (e *Engine) writeRecord(s *scratch, dataKey, old, rec []byte, d kv.Durability) error {
	if err := e.stored(s, dataHash(dataKey), userKey(dataKey), dataKey, old, rec, d); err != nil {
		e.cache.Delete(userKey(dataKey)) // what the store holds is now uncertain
		return err
	}
	e.cache.Set(userKey(dataKey), rec)
	return nil
}

// CachedRecord appends key's record to dst if the record cache holds it:
// a map lookup and a copy, which cannot block. false: not cached (the
// store may still hold it; Record reads there, and counts the miss).
func (e *Engine) CachedRecord(key, dst []byte) ([]byte, bool) {
	if len(key) == 0 || len(key) > kv.MaxKeyLen || e.closed.Load() {
		return dst, false
	}
	return e.cache.Lookup(key, dst)
}

// Cached reports whether a Get of key would be served from memory now
// (the record cache), so a caller may run it where blocking is not
// allowed, such as a network event loop. The answer can be stale by the
// time Get runs; then Get reads the store, which rarely waits on disk.
func (e *Engine) Cached(key []byte) bool {
	if len(key) == 0 || len(key) > kv.MaxKeyLen {
		return true // answered without touching storage
	}
	return e.cache.Contains(key)
}
