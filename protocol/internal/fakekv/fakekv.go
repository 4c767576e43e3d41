package fakekv

import (
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/engine/counter"
	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Faults are injected failures. The zero value injects nothing.
type Faults struct {
	PutErr error         // returned by every Put while non-nil
	GetErr error         // returned by every Get while non-nil
	Delay  time.Duration // slept before every Get and Put
	// BeforePut runs before every Put, outside the lock, so a test can see
	// the request or slip a concurrent write in between a caller's read
	// and its write.
	BeforePut func(key []byte, req *kv.PutRequest)
	// BeforeGet runs before every Get, outside the lock.
	BeforeGet func(key []byte)
}

// KV is the fake engine. Its zero value is not usable; call New.
type KV struct {
	now func() time.Time

	mu struct {
		sync.Mutex
		items   map[string][]version
		lastDot uint64 // every version gets the next dot
		lastTS  uint64 // hybrid-clock-like timestamps, strictly increasing
		// A flush hides, once the clock reaches flushAt, the versions
		// written before flushAt and those that existed when it was
		// issued (dot <= flushDot), as memcached's flush_all does.
		flushAt  int64 // unix nanos
		flushDot uint64
		closed   bool
		faults   Faults
		puts     int
	}
}

var _ kv.KV = (*KV)(nil)

type version struct {
	dot     uint64
	origin  uint64 // the write whose value this is (a touch keeps it)
	sib     kv.Sibling
	written int64 // unix nanos
}

// New returns an empty store reading time from now (time.Now when nil).
func New(now func() time.Time) *KV {
	if now == nil {
		now = time.Now
	}
	db := &KV{now: now}
	db.mu.items = make(map[string][]version)
	return db
}

// SetFaults replaces the injected faults.
func (db *KV) SetFaults(f Faults) {
	db.mu.Lock()
	db.mu.faults = f
	db.mu.Unlock()
}

// Close makes every later call fail with kv.ErrClosed.
func (db *KV) Close() {
	db.mu.Lock()
	db.mu.closed = true
	db.mu.Unlock()
}

// Puts returns how many writes were applied.
func (db *KV) Puts() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.mu.puts
}

// Context encoding: a format byte, then the highest dot the context covers.
// One node's version vector is a single counter, and every version with a
// dot at or below it was either returned by the read or already gone.
const contextFormat = 1

func encodeContext(dst []byte, dot uint64) []byte {
	if dot == 0 {
		return dst[:0]
	}
	dst = append(dst[:0], contextFormat)
	return binary.AppendUvarint(dst, dot)
}

func decodeContext(ctx []byte) (uint64, error) {
	if len(ctx) == 0 {
		return 0, nil
	}
	if ctx[0] != contextFormat {
		return 0, kv.ErrBadContext
	}
	dot, n := binary.Uvarint(ctx[1:])
	if n <= 0 || n != len(ctx)-1 {
		return 0, kv.ErrBadContext
	}
	return dot, nil
}

// casOf is the CAS of key's versions: a digest of the key and of the
// origin of the newest version, never 0 (splitmix64), as the engine's
// differs between keys and survives a touch.
func casOf(key []byte, vs []version) uint64 {
	var best version
	for _, v := range vs {
		if v.dot > best.dot {
			best = v
		}
	}
	if best.dot == 0 {
		return 0
	}
	h := uint64(14695981039346656037)
	for _, b := range key {
		h = (h ^ uint64(b)) * 1099511628211
	}
	z := best.origin + 0x9e3779b97f4a7c15 + h
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	if z == 0 {
		z = 1
	}
	return z
}

func (db *KV) enter() (Faults, error) {
	db.mu.Lock()
	f, closed := db.mu.faults, db.mu.closed
	db.mu.Unlock()
	if closed {
		return f, kv.ErrClosed
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	return f, nil
}

// live returns the versions of key still visible at now, an expired one
// as the tombstone it has become (as the engine does: it still decides
// the winner); the caller holds mu.
func (db *KV) live(key string, now time.Time) []version {
	vs := db.mu.items[key]
	out := vs[:0:0]
	unix, nanos := now.Unix(), now.UnixNano()
	for _, v := range vs {
		if db.mu.flushAt != 0 && nanos >= db.mu.flushAt && (v.written < db.mu.flushAt || v.dot <= db.mu.flushDot) {
			continue
		}
		if v.sib.Expires != 0 && v.sib.Expires <= unix {
			v.sib.Value, v.sib.Flags, v.sib.Deleted = nil, 0, true
		}
		out = append(out, v)
	}
	return out
}

func maxDot(vs []version) uint64 {
	var m uint64
	for _, v := range vs {
		m = max(m, v.dot)
	}
	return m
}

func winner(vs []version) (version, bool) {
	var best version
	found := false
	for _, v := range vs {
		if !found || v.sib.Timestamp > best.sib.Timestamp {
			best, found = v, true
		}
	}
	return best, found && !best.sib.Deleted
}

// Get implements kv.KV.
func (db *KV) Get(key []byte, o *kv.Object, _ kv.ReadOptions) error {
	f, err := db.enter()
	if err != nil {
		return err
	}
	if f.BeforeGet != nil {
		f.BeforeGet(key)
	}
	if f.GetErr != nil {
		return f.GetErr
	}
	if len(key) == 0 || len(key) > kv.MaxKeyLen {
		return kv.ErrKeyTooLong
	}
	o.Reset()
	db.mu.Lock()
	defer db.mu.Unlock()
	vs := db.live(string(key), db.now())
	for _, v := range vs {
		o.Siblings = appendSibling(o.Siblings, v.sib)
	}
	dot := maxDot(vs)
	o.Context = encodeContext(o.Context, dot)
	o.CAS = casOf(key, vs)
	return nil
}

// appendSibling appends a copy of s, reusing the value buffer of a sibling
// slot that an earlier read left behind.
func appendSibling(sibs []kv.Sibling, s kv.Sibling) []kv.Sibling {
	var buf []byte
	if len(sibs) < cap(sibs) {
		buf = sibs[:len(sibs)+1][len(sibs)].Value[:0]
	}
	s.Value = append(buf, s.Value...)
	return append(sibs, s)
}

// Put implements kv.KV.
func (db *KV) Put(key []byte, req *kv.PutRequest) (kv.PutResult, error) {
	f, err := db.enter()
	if err != nil {
		return kv.PutResult{}, err
	}
	if f.BeforePut != nil {
		f.BeforePut(key, req)
	}
	if f.PutErr != nil {
		return kv.PutResult{}, f.PutErr
	}
	if len(key) == 0 || len(key) > kv.MaxKeyLen {
		return kv.PutResult{}, kv.ErrKeyTooLong
	}
	covered := uint64(0)
	all := req.SupersedeAll || req.Touch || req.Arith != nil
	if !all {
		if covered, err = decodeContext(req.Context); err != nil {
			return kv.PutResult{}, err
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	now := db.now()
	vs := db.live(string(key), now)
	if err := checkCondition(key, vs, req); err != nil {
		return kv.PutResult{}, err
	}
	win, live := winner(vs)
	if (req.Touch || req.Arith != nil) && !live {
		return kv.PutResult{}, kv.ErrNotFound
	}
	kept := vs[:0]
	for _, v := range vs {
		expired := v.sib.Expires != 0 && v.sib.Expires <= now.Unix() // older than this write: it goes
		if !all && v.dot > covered && !expired {
			kept = append(kept, v)
		}
	}
	db.mu.lastDot++
	db.mu.lastTS = max(db.mu.lastTS+1, uint64(now.UnixNano()))
	nv := version{dot: db.mu.lastDot, origin: db.mu.lastDot, written: now.UnixNano(), sib: kv.Sibling{
		Flags: req.Flags, Expires: req.Expires, Timestamp: db.mu.lastTS, Deleted: req.Delete,
	}}
	res := kv.PutResult{Live: live}
	switch {
	case req.Touch:
		nv.origin, nv.sib.Flags = win.origin, win.sib.Flags
		nv.sib.Value = append([]byte{}, win.sib.Value...)
		res.PrevExpires = win.sib.Expires
	case req.Arith != nil:
		cur, ok := counter.ParseUint64(win.sib.Value)
		if !ok || len(win.sib.Value) == 0 {
			db.mu.lastDot--
			return kv.PutResult{}, kv.ErrNotNumber
		}
		next := cur + req.Arith.Delta
		if req.Arith.Decr {
			next = cur - min(cur, req.Arith.Delta)
		}
		nv.sib.Value = counter.Render(nil, next, counter.Width(len(win.sib.Value), next))
		nv.sib.Flags, res.Number, res.PrevExpires = win.sib.Flags, next, win.sib.Expires
		if !req.Arith.SetExpires {
			nv.sib.Expires = win.sib.Expires
		}
	case !req.Delete:
		nv.sib.Value = append([]byte{}, req.Value...)
	}
	kept = append(kept, nv)
	db.mu.items[string(key)] = kept
	db.mu.puts++
	res.CAS, res.Context = casOf(key, kept), encodeContext(nil, nv.dot)
	return res, nil
}

func checkCondition(key []byte, vs []version, req *kv.PutRequest) error {
	_, present := winner(vs)
	switch req.Cond {
	case kv.CondAbsent:
		if present {
			return kv.ErrNotStored
		}
	case kv.CondPresent:
		if !present {
			return kv.ErrNotStored
		}
	case kv.CondCAS:
		if !present {
			return kv.ErrNotFound
		}
		if casOf(key, vs) != req.CAS {
			return kv.ErrExists
		}
	}
	return nil
}

// FlushAll implements kv.KV.
func (db *KV) FlushAll(delay time.Duration) error {
	if _, err := db.enter(); err != nil {
		return err
	}
	db.mu.Lock()
	db.mu.flushAt = db.now().Add(delay).UnixNano()
	db.mu.flushDot = db.mu.lastDot
	db.mu.Unlock()
	return nil
}

// Stats implements kv.KV.
func (db *KV) Stats() []kv.Stat {
	db.mu.Lock()
	defer db.mu.Unlock()
	now := db.now()
	var items, bytes, versions int
	for key := range db.mu.items {
		vs := db.live(key, now)
		versions += len(vs)
		if _, ok := winner(vs); ok {
			items++
		}
		for _, v := range vs {
			bytes += len(key) + len(v.sib.Value)
		}
	}
	return []kv.Stat{
		{Name: "curr_items", Value: strconv.Itoa(items)},
		{Name: "bytes", Value: strconv.Itoa(bytes)},
		{Name: "fakekv_versions", Value: strconv.Itoa(versions)},
	}
}

// ErrInjected is a convenient error for Faults.
var ErrInjected = errors.New("fakekv: injected fault")
