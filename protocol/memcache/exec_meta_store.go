package memcache

import (
	"errors"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// metaSet serves ms.
func (e *Executor) metaSet(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	if cmd.Err != "" {
		return e.rejectedStore(s, cmd, out)
	}
	m := &cmd.Meta
	e.stats.cmdSet.Add(1)
	key := e.metaKey(s, cmd)
	res, casMode, err := e.metaStore(s, key, cmd, now)
	code := metaCode(err)
	if code == "" {
		return appendLine(out, storageError(err))
	}
	if casMode {
		e.countCAS(err)
	}
	if err == nil {
		e.stats.totalItems.Add(1)
		if m.Quiet {
			return out
		}
	}
	out = append(out, code...)
	for _, t := range m.Tokens {
		switch t[0] {
		case 'O':
			out = append(out, ' ')
			out = append(out, t...)
		case 'k':
			out = appendMetaKey(out, key, m.Base64Key)
		case 'c':
			out = append(out, " c"...)
			out = appendUint(out, res.CAS)
		}
	}
	return append(out, "\r\n"...)
}

// metaCode names the meta reply code of a write's outcome, or "" for an
// engine failure.
func metaCode(err error) string {
	switch {
	case err == nil:
		return "HD"
	case errors.Is(err, kv.ErrNotStored):
		return "NS"
	case errors.Is(err, kv.ErrExists):
		return "EX"
	case errors.Is(err, kv.ErrNotFound):
		return "NF"
	}
	return ""
}

func (e *Executor) countCAS(err error) {
	switch {
	case err == nil:
		e.stats.casHits.Add(1)
	case errors.Is(err, kv.ErrExists):
		e.stats.casBadval.Add(1)
	case errors.Is(err, kv.ErrNotFound):
		e.stats.casMisses.Add(1)
	}
}

// metaStore performs the write of ms in its mode (M). casMode reports
// whether memcached would treat it as a "cas" (set or replace with C).
func (e *Executor) metaStore(s *Session, key []byte, cmd *Command, now time.Time) (res kv.PutResult, casMode bool, err error) {
	m := &cmd.Meta
	mode := m.Mode
	if mode == 'A' || mode == 'P' {
		res, err = e.concatValue(s, key, cmd.Data, mode == 'P', m.HasCAS, m.CAS)
		return res, false, err
	}
	var expires int64
	if m.HasTTL {
		expires = expiresAt(m.TTL, now)
	}
	s.put = kv.PutRequest{Value: cmd.Data, Flags: m.Flags, Expires: expires, Durability: m.Durability}
	if err := e.supersede(s, m); err != nil {
		return res, false, err
	}
	casMode = m.HasCAS && mode != 'E'
	switch {
	case mode == 'E':
		s.put.Cond = kv.CondAbsent
	case casMode:
		s.put.Cond, s.put.CAS = kv.CondCAS, m.CAS
	case mode == 'R':
		s.put.Cond = kv.CondPresent
	}
	res, err = e.putReq(s, key)
	if errors.Is(err, kv.ErrExists) && casMode && m.Invalidate {
		return e.staleStore(s, key, cmd)
	}
	return res, casMode, err
}

// supersede sets what s.put replaces: the context of flag X when given,
// otherwise everything (memcached semantics).
func (e *Executor) supersede(s *Session, m *MetaFlags) error {
	if !m.HasContext {
		s.put.SupersedeAll = true
		return nil
	}
	ctx, err := decodeContext(s.ctx, m.Context)
	if err != nil {
		return kv.ErrBadContext
	}
	s.ctx = ctx
	s.put.Context = ctx
	return nil
}

// staleStore is ms with C and I whose CAS did not match. memcached then
// accepts a CAS older than the item's: it stores the value marked stale,
// keeping the item's expiry and whether its win token was sent. Our CAS
// values are digests with no order, so any CAS other than the item's
// counts as older (memcached answers EXISTS to one from the future, which
// no client of it can hold).
func (e *Executor) staleStore(s *Session, key []byte, cmd *Command) (kv.PutResult, bool, error) {
	for range e.opts.Retries {
		sib, ok, err := e.read(s, key)
		if err != nil || !ok {
			if err == nil {
				err = kv.ErrNotFound
			}
			return kv.PutResult{}, true, err
		}
		st := e.leases.get(key, s.obj.CAS)
		prev := s.obj.CAS
		s.put = kv.PutRequest{Value: cmd.Data, Flags: cmd.Meta.Flags, Expires: sib.Expires, Durability: cmd.Meta.Durability}
		res, err := e.rewrite(s, key)
		if errors.Is(err, kv.ErrExists) {
			continue // written meanwhile: look again
		}
		if err == nil {
			e.leases.set(key, lease{cas: res.CAS, prevCAS: prev, stale: true, tokenSent: st.tokenSent})
		}
		return res, true, err
	}
	return kv.PutResult{}, true, errContention
}

// metaDelete serves md: delete, or with I mark stale, or with x empty the
// value (memcached 1.6.27's flag).
func (e *Executor) metaDelete(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	m := &cmd.Meta
	key := e.metaKey(s, cmd)
	var err error
	if m.Invalidate || m.RemoveVal {
		err = e.invalidate(s, key, m, now)
	} else {
		err = e.metaRemove(s, key, m)
	}
	code := metaCode(err)
	if code == "" {
		return appendLine(out, storageError(err))
	}
	if err == nil {
		if !m.Invalidate {
			e.stats.deleteHits.Add(1)
		}
		if m.Quiet {
			return out
		}
	} else {
		e.stats.deleteMisses.Add(1)
	}
	out = append(out, code...)
	out = appendOpaqueAndKey(out, m, key)
	return append(out, "\r\n"...)
}

// metaRemove writes the tombstone of md: whether or not this node saw a
// live value, unless a cas is to be compared (see delete).
func (e *Executor) metaRemove(s *Session, key []byte, m *MetaFlags) error {
	s.put = kv.PutRequest{Delete: true, Durability: m.Durability}
	if m.HasCAS {
		s.put.Cond, s.put.CAS = kv.CondCAS, m.CAS
	}
	if err := e.supersede(s, m); err != nil {
		return err
	}
	res, err := e.putReq(s, key)
	if err == nil && !res.Live {
		return kv.ErrNotFound
	}
	return err
}

// invalidate is md with I and/or x: the item stays, with a new CAS; I marks
// it stale (and T, if given, sets its expiry), x empties its value.
func (e *Executor) invalidate(s *Session, key []byte, m *MetaFlags, now time.Time) error {
	for range e.opts.Retries {
		sib, ok, err := e.read(s, key)
		if err != nil {
			return err
		}
		if !ok {
			return kv.ErrNotFound
		}
		if m.HasCAS && m.CAS != s.obj.CAS {
			return kv.ErrExists
		}
		s.put = kv.PutRequest{Value: sib.Value, Flags: sib.Flags, Expires: sib.Expires, Durability: m.Durability}
		if m.RemoveVal {
			s.put.Value, s.put.Flags, s.put.Expires = nil, m.Flags, 0
		}
		if m.HasTTL {
			s.put.Expires = expiresAt(m.TTL, now)
		}
		prev := s.obj.CAS
		res, err := e.rewrite(s, key)
		if errors.Is(err, kv.ErrExists) && !m.HasCAS {
			continue
		}
		if err == nil && m.Invalidate {
			e.leases.set(key, lease{cas: res.CAS, prevCAS: prev, stale: true})
		}
		return err
	}
	return errContention
}
