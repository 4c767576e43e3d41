package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/engine/cache"
	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/hlc"
	"github.com/dynamo-kv/dynamo/engine/pace"
	"github.com/dynamo-kv/dynamo/engine/record"
)

// Engine is a node's versioned store. It implements KV.
type Engine struct {
	opts  Options
	st    Storage
	actor dvv.Actor
	clock *hlc.Clock

	// locks serialise read-modify-write per key; a key maps to a stripe
	// by its hash.
	locks [4096]sync.Mutex

	flush flushState
	cache *cache.Cache // records by data key; see readRecord

	scratch sync.Pool // *scratch

	stats counters

	closeOnce sync.Once
	closed    atomic.Bool
	stop      chan struct{}
	reaperWG  sync.WaitGroup
	reapPacer pace.Pacer
}

var _ KV = (*Engine)(nil)

// scratch holds per-call buffers so the hot path does not allocate.
type scratch struct {
	key  []byte
	raw  []byte
	enc  []byte
	rec  record.Record
	next record.Record // the record being written
	peer record.Record // a replica's record being merged in
	ctx  dvv.Clock
}

// Open opens (or creates) the engine's store and starts its reaper.
func Open(opts Options) (*Engine, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
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
	if err := e.loadMeta(); err != nil {
		st.Close()
		return nil, err
	}
	if err := e.countRecords(); err != nil {
		st.Close()
		return nil, err
	}
	e.reapPacer = pace.Pacer{Share: e.opts.ReapShare}
	e.reaperWG.Add(1)
	go e.reapLoop()
	return e, nil
}

// Actor is the identity this incarnation of the node writes dots with.
func (e *Engine) Actor() dvv.Actor { return e.actor }

// Close stops the reaper, flushes the store and marks the shutdown clean.
// The caller must have stopped issuing requests.
func (e *Engine) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		close(e.stop)
		e.reaperWG.Wait()
		err = errors.Join(e.st.Set(metaClean, []byte{1}, Sync), e.st.Close())
	})
	return err
}

func (e *Engine) lockFor(hash uint64) *sync.Mutex { return &e.locks[hash%uint64(len(e.locks))] }

func (e *Engine) now() time.Time { return e.opts.Now() }

// Get implements KV.
func (e *Engine) Get(key []byte, o *Object) error {
	o.Reset()
	if len(key) == 0 || len(key) > MaxKeyLen {
		return ErrKeyTooLong
	}
	if e.closed.Load() {
		return ErrClosed
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
	e.fillObject(o, &s.rec)
	return nil
}

// fillObject copies the visible part of rec into o, which owns the copies.
func (e *Engine) fillObject(o *Object, rec *record.Record) {
	now := e.now()
	size := 0
	for i := range rec.Siblings {
		if e.visible(&rec.Siblings[i], now) {
			size += len(rec.Siblings[i].Value)
		}
	}
	if cap(o.buf) < size {
		o.buf = make([]byte, 0, size)
	}
	for i := range rec.Siblings {
		rs := &rec.Siblings[i]
		if !e.visible(rs, now) {
			continue
		}
		start := len(o.buf)
		o.buf = append(o.buf, rs.Value...)
		o.Siblings = append(o.Siblings, Sibling{
			Value:     o.buf[start:len(o.buf):len(o.buf)],
			Flags:     rs.Flags,
			Expires:   rs.Expires,
			Timestamp: rs.Timestamp,
			Deleted:   rs.Deleted,
		})
	}
	o.Context = dvv.AppendClock(o.Context[:0], rec.Clock)
	o.CAS = casOf(o.Context)
}

// casOf digests a context into memcached's 64-bit cas unique; never 0.
// It must be the same on every node for the same context, so it is a fixed
// function of the bytes: 64-bit multiply-xorshift mixing (the finalizer of
// splitmix64) over 8-byte words. Accidental collisions are ~2^-64; cas
// guards against lost updates, not attackers, who could only make their
// own cas succeed. BLAKE3 here cost a fifth of a get's CPU in profiles.
func casOf(ctx []byte) uint64 {
	h := uint64(len(ctx)) * 0x9e3779b97f4a7c15
	for len(ctx) >= 8 {
		h = mix64(h ^ binary.LittleEndian.Uint64(ctx))
		ctx = ctx[8:]
	}
	var tail [8]byte
	copy(tail[:], ctx)
	h = mix64(h ^ binary.LittleEndian.Uint64(tail[:]) ^ uint64(len(ctx))<<56)
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

// live reports whether rec has a value a classic client would see.
func (e *Engine) live(rec *record.Record, now time.Time) bool {
	var best *record.Sibling
	for i := range rec.Siblings {
		s := &rec.Siblings[i]
		if e.visible(s, now) && (best == nil || s.Timestamp > best.Timestamp) {
			best = s
		}
	}
	return best != nil && !best.Deleted
}

// Put implements KV.
func (e *Engine) Put(key []byte, req *PutRequest) (PutResult, error) {
	res, _, err := e.put(key, req, nil, false)
	return res, err
}

// PutRecord is Put for a coordinator: it also appends the key's new
// record to recDst, for replication to the other replicas.
func (e *Engine) PutRecord(key []byte, req *PutRequest, recDst []byte) (PutResult, []byte, error) {
	return e.put(key, req, recDst, true)
}

func (e *Engine) put(key []byte, req *PutRequest, recDst []byte, wantRecord bool) (PutResult, []byte, error) {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return PutResult{}, recDst, ErrKeyTooLong
	}
	if e.closed.Load() {
		return PutResult{}, recDst, ErrClosed
	}
	s := e.scratch.Get().(*scratch)
	defer e.scratch.Put(s)

	hash := hashKey(key)
	s.key = appendDataKey(s.key[:0], hash, key)
	mu := e.lockFor(hash)
	mu.Lock()
	defer mu.Unlock()

	raw, found, err := e.readRecord(s.key, s.raw[:0])
	s.raw = raw
	if err != nil {
		return PutResult{}, recDst, err
	}
	s.rec.Reset()
	if found {
		if err := record.Decode(&s.rec, raw); err != nil {
			return PutResult{}, recDst, fmt.Errorf("engine: key %q: %w", key, err)
		}
	}
	now := e.now()
	if err := e.check(req, &s.rec, now); err != nil {
		return PutResult{}, recDst, err
	}

	ctx := s.rec.Clock
	if !req.SupersedeAll {
		if ctx, _, err = dvv.DecodeClock(s.ctx[:0], req.Context); err != nil {
			return PutResult{}, recDst, ErrBadContext
		}
		s.ctx = ctx
	}
	dot := dvv.NextDot(s.rec.Clock, ctx, e.actor)
	next := &s.next
	next.Reset()
	// Every Record in scratch owns its clock's backing array, so this
	// cannot overwrite rec.Clock or ctx.
	next.Clock = dvv.Advance(next.Clock, s.rec.Clock, ctx, dot)
	for _, sib := range s.rec.Siblings {
		// Superseded versions go; so do dead ones (their dots stay in the
		// clock, so replicas drop them too).
		if dvv.Survives(ctx, sib.Dot) && e.visible(&sib, now) {
			next.Siblings = append(next.Siblings, sib)
		}
	}
	e.prune(next)
	ns := record.Sibling{
		Dot:       dot,
		Timestamp: e.clock.Now(),
		Flags:     req.Flags,
		Expires:   req.Expires,
		Deleted:   req.Delete,
	}
	if !req.Delete {
		ns.Value = req.Value
	}
	next.Siblings = append(next.Siblings, ns)
	next.Sort()

	s.enc = record.Append(s.enc[:0], next)
	d := req.Durability
	if d == DurabilityDefault {
		d = e.opts.Durability
	}
	if err := e.writeRecord(s.key, s.enc, d); err != nil {
		return PutResult{}, recDst, err
	}
	e.stats.replaced(len(s.key), found, found && hasValue(&s.rec), len(raw), true, hasValue(next), len(s.enc))
	e.stats.puts.Add(1)

	res := PutResult{Context: dvv.AppendClock(nil, next.Clock)}
	res.CAS = casOf(res.Context)
	if wantRecord {
		recDst = append(recDst, s.enc...)
	}
	return res, recDst, nil
}

// check applies a write's condition to the key's current record.
func (e *Engine) check(req *PutRequest, rec *record.Record, now time.Time) error {
	switch req.Cond {
	case CondNone:
		return nil
	case CondAbsent:
		if e.live(rec, now) {
			return ErrNotStored
		}
	case CondPresent:
		if !e.live(rec, now) {
			return ErrNotStored
		}
	case CondCAS:
		if !e.live(rec, now) {
			return ErrNotFound
		}
		var buf [256]byte
		if casOf(dvv.AppendClock(buf[:0], rec.Clock)) != req.CAS {
			return ErrExists
		}
	default:
		return fmt.Errorf("engine: unknown condition %d", req.Cond)
	}
	return nil
}

// prune enforces MaxSiblings, leaving room for the write being added by
// dropping the oldest siblings. Their dots stay covered by the clock, so
// every replica drops them alike.
func (e *Engine) prune(r *record.Record) {
	over := len(r.Siblings) + 1 - e.opts.MaxSiblings
	if over <= 0 {
		return
	}
	for range over {
		oldest := 0
		for i := range r.Siblings {
			if r.Siblings[i].Timestamp < r.Siblings[oldest].Timestamp {
				oldest = i
			}
		}
		r.Siblings = append(r.Siblings[:oldest], r.Siblings[oldest+1:]...)
	}
	e.stats.siblingsPruned.Add(uint64(over))
	e.stats.siblingCapHits.Add(1)
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
	ck := userKey(dataKey)
	if v, ok := e.cache.Get(ck, dst); ok {
		return v, true, nil
	}
	epoch := e.cache.Epoch(ck)
	v, found, err := e.st.Get(dataKey, dst)
	if err == nil && found {
		e.cache.Fill(ck, v[len(dst):], epoch)
	}
	return v, found, err
}

// writeRecord stores a record and then updates the cache, under the key's
// lock, so the cache never holds a record older than the store's.
func (e *Engine) writeRecord(dataKey, rec []byte, d Durability) error {
	if err := e.st.Set(dataKey, rec, d); err != nil {
		e.cache.Delete(userKey(dataKey)) // what the store holds is now uncertain
		return err
	}
	e.cache.Set(userKey(dataKey), rec)
	return nil
}

// Cached reports whether a Get of key would be served from memory now
// (the record cache), so a caller may run it where blocking is not
// allowed, such as a network event loop. The answer can be stale by the
// time Get runs; then Get reads the store, which rarely waits on disk.
func (e *Engine) Cached(key []byte) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return true // answered without touching storage
	}
	return e.cache.Contains(key)
}
