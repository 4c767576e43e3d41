package memcache

import (
	"errors"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// metaArithmetic serves ma.
func (e *Executor) metaArithmetic(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	m := &cmd.Meta
	key := e.metaKey(s, cmd)
	incr := m.Mode != 'D' && m.Mode != '-'
	var r deltaResult
	created := false
	for range 2 {
		r = e.applyDelta(s, key, incr, m.Delta, m, now)
		if !errors.Is(r.err, kv.ErrNotFound) || !m.Vivify {
			break
		}
		r = e.vivifyNumber(s, key, m, now)
		created = r.err == nil
		if !errors.Is(r.err, kv.ErrNotStored) {
			break // created, or failed; NotStored means a racing creator won
		}
	}
	switch {
	case r.err == nil:
		if m.Quiet && !created {
			return out
		}
		return e.appendArithmeticReply(out, s, key, m, r, created, now)
	case errors.Is(r.err, kv.ErrNotFound):
		e.countDeltaMiss(incr)
		out = append(out, "NF"...)
	case errors.Is(r.err, kv.ErrExists):
		out = append(out, "EX"...)
	case errors.Is(r.err, kv.ErrNotStored):
		out = append(out, "NS"...)
	default:
		return appendLine(out, deltaError(r.err))
	}
	out = appendOpaqueAndKey(out, m, key)
	return append(out, "\r\n"...)
}

// vivifyNumber creates the item of ma N with the initial value J.
func (e *Executor) vivifyNumber(s *Session, key []byte, m *MetaFlags, now time.Time) deltaResult {
	s.val = appendUint(s.val[:0], m.Initial)
	r := deltaResult{value: m.Initial, digits: len(s.val)}
	r.expires = metaExpiry(m, 0, true, now)
	s.put = kv.PutRequest{Value: s.val, Expires: r.expires, SupersedeAll: true, Cond: kv.CondAbsent}
	r.res, r.err = e.putReq(s, key)
	return r
}

func (e *Executor) appendArithmeticReply(out []byte, s *Session, key []byte, m *MetaFlags, r deltaResult, created bool, now time.Time) []byte {
	if m.Value {
		out = append(out, "VA "...)
		out = appendUint(out, uint64(r.digits))
	} else {
		out = append(out, "HD"...)
	}
	// memcached applies T and N while it writes the reply, so a t before
	// them reports the expiry the item had.
	exp := r.oldExpires
	for _, t := range m.Tokens {
		switch {
		case t[0] == 'c':
			out = append(out, " c"...)
			out = appendUint(out, r.res.CAS)
		case t[0] == 't':
			out = append(out, " t"...)
			out = appendInt(out, ttl(exp, now))
		case t[0] == 'T':
			exp = expiresAt(m.TTL, now)
		case t[0] == 'N' && created:
			exp = expiresAt(m.VivifyTTL, now)
		case t[0] == 'O':
			out = append(out, ' ')
			out = append(out, t...)
		case t[0] == 'k':
			out = appendMetaKey(out, key, m.Base64Key)
		}
	}
	out = append(out, "\r\n"...)
	if m.Value {
		out = append(out, s.val[:r.digits]...)
		out = append(out, "\r\n"...)
	}
	return out
}
