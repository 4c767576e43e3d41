package memcache

import (
	"errors"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// get serves get, gets, gat and gats.
func (e *Executor) get(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	start := len(out)
	touch := cmd.Op == OpGat || cmd.Op == OpGats
	withCAS := cmd.Op == OpGets || cmd.Op == OpGats
	if s.Fanout != nil && !touch && len(cmd.Keys) > 1 {
		return e.getMany(s, cmd, withCAS, now, out)
	}
	for _, key := range cmd.Keys {
		sib, ok, cas, err := e.getOne(s, key, touch, cmd.Exptime, now)
		if err != nil {
			// Like memcached when it cannot finish a multi-get: drop the
			// partial reply and send one error line instead.
			return e.line(out[:start], cmd, storageError(err))
		}
		var spilled bool
		if out, spilled = e.appendHit(s, key, sib, ok, touch, withCAS, cas, now, out); spilled {
			start = 0 // what was sent cannot be taken back
		}
	}
	return append(out, "END\r\n"...)
}

// appendHit counts one key's read and, if it was found, appends its VALUE
// line; spilled says the reply so far went to the session's sink.
func (e *Executor) appendHit(s *Session, key []byte, sib *kv.Sibling, ok, touch, withCAS bool, cas uint64, now time.Time, out []byte) (_ []byte, spilled bool) {
	e.countGet(touch, ok)
	e.detail.get(key, ok)
	if !ok {
		return out, false
	}
	e.access.fetched(key, cas, now)
	return s.spill(appendValue(out, key, sib, withCAS, cas))
}

// fanoutWindow bounds the keys of one multi-key get read at once: their
// values are held until the reply takes them, so the bound is on memory
// as much as on concurrency.
const fanoutWindow = 32

// getMany is get for several keys read at once (Session.Fanout): each
// window of keys is read concurrently, then its replies are encoded in
// request order exactly as the sequential loop would, the first error
// included.
func (e *Executor) getMany(s *Session, cmd *Command, withCAS bool, now time.Time, out []byte) []byte {
	start := len(out)
	r := kv.ReadOptions{R: s.readQuorum}
	for lo := 0; lo < len(cmd.Keys); lo += fanoutWindow {
		keys := cmd.Keys[lo:min(lo+fanoutWindow, len(cmd.Keys))]
		for len(s.objs) < len(keys) {
			s.objs = append(s.objs, kv.Object{})
		}
		s.errs = append(s.errs[:0], make([]error, len(keys))...)
		objs, errs := s.objs, s.errs
		s.Fanout(len(keys), func(i int) { errs[i] = e.kv.Get(keys[i], &objs[i], r) })
		for i, key := range keys {
			if errs[i] != nil {
				// As the sequential loop: drop the partial reply, one error line.
				return e.line(out[:start], cmd, storageError(errs[i]))
			}
			sib, ok := objs[i].Winner()
			var spilled bool
			if out, spilled = e.appendHit(s, key, sib, ok, false, withCAS, objs[i].CAS, now, out); spilled {
				start = 0
			}
		}
	}
	return append(out, "END\r\n"...)
}

// getOne reads key and, for gat/gats, moves its expiry.
func (e *Executor) getOne(s *Session, key []byte, touch bool, exptime int32, now time.Time) (*kv.Sibling, bool, uint64, error) {
	for range e.opts.Retries {
		sib, ok, err := e.read(s, key)
		if err != nil || !ok || !touch {
			return sib, ok, s.obj.CAS, err
		}
		sib, err = e.retouch(s, key, sib, expiresAt(exptime, now))
		switch {
		case err == nil:
			return sib, true, s.obj.CAS, nil
		case errors.Is(err, kv.ErrExists):
			continue
		case errors.Is(err, kv.ErrNotFound):
			return nil, false, 0, nil
		default:
			return nil, false, 0, err
		}
	}
	return nil, false, 0, errContention
}

// retouch rewrites the value read into s.obj with a new expiry (the
// engine keeps its value, flags and cas), provided nothing was written
// since the read. Afterwards s.obj describes the key as written: the one
// version, its CAS and context.
func (e *Executor) retouch(s *Session, key []byte, sib *kv.Sibling, expires int64) (*kv.Sibling, error) {
	s.put = kv.PutRequest{Touch: true, Expires: expires}
	res, err := e.rewrite(s, key)
	if err != nil {
		return sib, err
	}
	e.leases.moved(key, s.obj.CAS, res.CAS)
	w := *sib
	w.Expires = expires
	s.obj.Siblings = append(s.obj.Siblings[:0], w)
	s.obj.Context = append(s.obj.Context[:0], res.Context...)
	s.obj.CAS = res.CAS
	return &s.obj.Siblings[0], nil
}

func (e *Executor) countGet(touch, hit bool) {
	c := &e.stats
	switch {
	case touch && hit:
		c.cmdTouch.Add(1)
		c.touchHits.Add(1)
	case touch:
		c.cmdTouch.Add(1)
		c.touchMisses.Add(1)
	case hit:
		c.cmdGet.Add(1)
		c.getHits.Add(1)
	default:
		c.cmdGet.Add(1)
		c.getMisses.Add(1)
	}
}

// appendValue appends "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n".
func appendValue(out, key []byte, sib *kv.Sibling, withCAS bool, cas uint64) []byte {
	out = append(out, "VALUE "...)
	out = append(out, key...)
	out = append(out, ' ')
	out = appendUint(out, uint64(sib.Flags))
	out = append(out, ' ')
	out = appendUint(out, uint64(len(sib.Value)))
	if withCAS {
		out = append(out, ' ')
		out = appendUint(out, cas)
	}
	out = append(out, "\r\n"...)
	out = append(out, sib.Value...)
	return append(out, "\r\n"...)
}

// store serves set, add, replace and cas.
func (e *Executor) store(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	if cmd.Err != "" {
		return e.rejectedStore(s, cmd, out)
	}
	e.stats.cmdSet.Add(1)
	e.detail.set(cmd.Key)
	s.put = kv.PutRequest{
		Value: cmd.Data, Flags: cmd.Flags, Expires: expiresAt(cmd.Exptime, now), SupersedeAll: true,
	}
	switch cmd.Op {
	case OpAdd:
		s.put.Cond = kv.CondAbsent
	case OpReplace:
		s.put.Cond = kv.CondPresent
	case OpCas:
		s.put.Cond, s.put.CAS = kv.CondCAS, cmd.CAS
	}
	_, err := e.putReq(s, cmd.Key)
	return e.line(out, cmd, e.storeResult(cmd.Op == OpCas, err))
}

// storeResult counts a storage outcome and names memcached's reply.
func (e *Executor) storeResult(cas bool, err error) string {
	c := &e.stats
	switch {
	case err == nil:
		c.totalItems.Add(1)
		if cas {
			c.casHits.Add(1)
		}
		return "STORED"
	case errors.Is(err, kv.ErrNotStored):
		return "NOT_STORED"
	case errors.Is(err, kv.ErrExists):
		c.casBadval.Add(1)
		return "EXISTS"
	case errors.Is(err, kv.ErrNotFound):
		c.casMisses.Add(1)
		return "NOT_FOUND"
	}
	return storageError(err)
}

// rejectedStore answers a storage command whose data block was refused.
// memcached counts a bad data chunk as a set; an item too large for a set
// also drops the old value rather than leave it stale.
func (e *Executor) rejectedStore(s *Session, cmd *Command, out []byte) []byte {
	if !cmd.TooLarge {
		e.stats.cmdSet.Add(1)
		return e.line(out, cmd, cmd.Err)
	}
	e.stats.storeTooLarge.Add(1)
	if cmd.Op == OpSet || cmd.Op == OpMetaSet {
		e.dropKey(s, e.metaKey(s, cmd))
	}
	return e.line(out, cmd, cmd.Err)
}

// dropKey deletes key if it has a value, ignoring the outcome: the reply is
// already decided.
func (e *Executor) dropKey(s *Session, key []byte) {
	s.put = kv.PutRequest{Delete: true, SupersedeAll: true, Cond: kv.CondPresent}
	_, _ = e.putReq(s, key)
}

// concat serves append and prepend: the old value's flags and expiry stay.
func (e *Executor) concat(s *Session, cmd *Command, out []byte) []byte {
	if cmd.Err != "" {
		return e.rejectedStore(s, cmd, out)
	}
	e.stats.cmdSet.Add(1)
	e.detail.set(cmd.Key)
	_, err := e.concatValue(s, cmd.Key, cmd.Data, cmd.Op == OpPrepend, false, 0)
	return e.line(out, cmd, e.storeResult(false, err))
}

// concatValue appends or prepends data to key's value with a conditional
// rewrite, retrying when another writer intervenes. With checkCAS the
// caller's CAS must match the value read (ms MA/MP with C).
func (e *Executor) concatValue(s *Session, key, data []byte, prepend, checkCAS bool, cas uint64) (kv.PutResult, error) {
	for range e.opts.Retries {
		sib, ok, err := e.read(s, key)
		if err != nil {
			return kv.PutResult{}, err
		}
		if !ok {
			return kv.PutResult{}, kv.ErrNotStored
		}
		if checkCAS && cas != s.obj.CAS {
			return kv.PutResult{}, kv.ErrExists
		}
		if e.itemTooLarge(key, sib.Flags, len(sib.Value)+len(data)) {
			return kv.PutResult{}, kv.ErrNotStored
		}
		if prepend {
			s.val = append(append(s.val[:0], data...), sib.Value...)
		} else {
			s.val = append(append(s.val[:0], sib.Value...), data...)
		}
		s.put = kv.PutRequest{Value: s.val, Flags: sib.Flags, Expires: sib.Expires}
		res, err := e.rewrite(s, key)
		switch {
		case errors.Is(err, kv.ErrExists) && !checkCAS:
			continue
		case errors.Is(err, kv.ErrNotFound):
			return res, kv.ErrNotStored
		}
		return res, err
	}
	return kv.PutResult{}, errContention
}

// delete serves delete. The tombstone is written whether or not the
// coordinating node saw a live value: in a cluster its copy may be the
// stale one, and a delete that wrote nothing there would leave the value
// alive everywhere else. The reply says what it saw.
func (e *Executor) delete(s *Session, cmd *Command, out []byte) []byte {
	s.put = kv.PutRequest{Delete: true, SupersedeAll: true}
	res, err := e.putReq(s, cmd.Key)
	if err == nil {
		e.detail.del(cmd.Key)
	}
	switch {
	case err == nil && res.Live:
		e.stats.deleteHits.Add(1)
		return e.line(out, cmd, "DELETED")
	case err == nil:
		e.stats.deleteMisses.Add(1)
		return e.line(out, cmd, "NOT_FOUND")
	}
	return e.line(out, cmd, storageError(err))
}

// arithmetic serves incr and decr.
func (e *Executor) arithmetic(s *Session, cmd *Command, out []byte) []byte {
	r := e.applyDelta(s, cmd.Key, cmd.Op == OpIncr, cmd.Delta, nil, time.Time{})
	switch {
	case r.err == nil:
		if cmd.NoReply {
			return out
		}
		out = append(out, s.val[:r.digits]...)
		return append(out, "\r\n"...)
	case errors.Is(r.err, kv.ErrNotFound):
		e.countDeltaMiss(cmd.Op == OpIncr)
		return e.line(out, cmd, "NOT_FOUND")
	}
	return e.line(out, cmd, deltaError(r.err))
}

func (e *Executor) countDeltaMiss(incr bool) {
	if incr {
		e.stats.incrMisses.Add(1)
	} else {
		e.stats.decrMisses.Add(1)
	}
}

func deltaError(err error) string {
	if errors.Is(err, kv.ErrNotNumber) {
		return errNonNumericMsg
	}
	return storageError(err)
}

// deltaResult is the outcome of applyDelta. The new value's digits are
// s.val[:digits].
type deltaResult struct {
	err        error // nil, kv.ErrNotFound (miss), kv.ErrExists (C mismatch), kv.ErrNotNumber, or an engine error
	value      uint64
	digits     int
	res        kv.PutResult
	oldExpires int64 // expiry before the write
	expires    int64 // expiry written
}

// applyDelta adds or subtracts delta from key's decimal value the way
// memcached's do_add_delta does: 64-bit wrap on incr, floor at 0 on decr,
// and a result no longer than the old value is padded with spaces to the
// old length. The engine does it atomically, as a counter whose changes
// made on different nodes merge without loss. m, for ma, supplies the CAS
// to compare and the expiry flags.
func (e *Executor) applyDelta(s *Session, key []byte, incr bool, delta uint64, m *MetaFlags, now time.Time) deltaResult {
	s.arith = kv.Arith{Delta: delta, Decr: !incr}
	s.put = kv.PutRequest{Arith: &s.arith}
	if m != nil {
		if m.HasCAS && m.CAS != 0 {
			s.put.Cond, s.put.CAS = kv.CondCAS, m.CAS
		}
		if m.hasFlag('T') { // a new expiry for the existing item
			s.arith.SetExpires = true
			s.put.Expires = metaExpiry(m, 0, false, now)
		}
	}
	res, err := e.putReq(s, key)
	if err != nil {
		return deltaResult{err: err}
	}
	s.val = appendUint(s.val[:0], res.Number)
	r := deltaResult{value: res.Number, digits: len(s.val), res: res, oldExpires: res.PrevExpires, expires: res.PrevExpires}
	if s.arith.SetExpires {
		r.expires = s.put.Expires
	}
	if incr {
		e.stats.incrHits.Add(1)
	} else {
		e.stats.decrHits.Add(1)
	}
	return r
}

// touch serves touch.
func (e *Executor) touch(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	_, ok, _, err := e.getOne(s, cmd.Key, true, cmd.Exptime, now)
	if err != nil {
		return e.line(out, cmd, storageError(err))
	}
	e.countGet(true, ok)
	if !ok {
		return e.line(out, cmd, "NOT_FOUND")
	}
	return e.line(out, cmd, "TOUCHED")
}

// flushAll serves flush_all [delay]; a delay over 30 days is a unix time.
func (e *Executor) flushAll(cmd *Command, now time.Time, out []byte) []byte {
	e.stats.cmdFlush.Add(1)
	if cmd.Err != "" {
		return e.line(out, cmd, cmd.Err)
	}
	var delay time.Duration
	if cmd.Exptime > 0 {
		delay = time.Duration(max(expiresAt(cmd.Exptime, now)-now.Unix(), 0)) * time.Second
	}
	if err := e.kv.FlushAll(delay); err != nil {
		return e.line(out, cmd, storageError(err))
	}
	e.leases.clear()
	e.access.clear()
	return e.line(out, cmd, "OK")
}

// statsCommand serves stats and the sub-commands that make sense here.
func (e *Executor) statsCommand(cmd *Command, now time.Time, out []byte) []byte {
	switch string(cmd.Arg) {
	case "":
		return e.appendGeneralStats(out, now)
	case "reset":
		e.stats.reset()
		e.detail.reset()
		return append(out, "RESET\r\n"...)
	case "settings":
		return e.appendSettingsStats(out)
	case "detail":
		return e.detailCommand(cmd.Key, out)
	case "items", "slabs", "sizes", "conns":
		// No slab allocator and no per-connection table: nothing to list.
		return append(out, "END\r\n"...)
	}
	return append(out, "ERROR\r\n"...)
}
