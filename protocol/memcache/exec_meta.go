package memcache

import (
	"errors"
	"time"

	"github.com/dynamo-kv/dynamo/engine/hlc"
	"github.com/dynamo-kv/dynamo/engine/kv"
)

// metaKey is the key a meta command names: decoded when flag b is set (the
// parser has already checked that it decodes).
func (e *Executor) metaKey(s *Session, cmd *Command) []byte {
	if !cmd.Meta.Base64Key {
		return cmd.Key
	}
	s.key, _ = decodeKey(s.key[:0], cmd.Key)
	return s.key
}

// appendMetaKey appends " k<key>", base64 with a trailing " b" for binary
// keys as memcached's META_KEY does.
func appendMetaKey(out, key []byte, binary bool) []byte {
	out = append(out, " k"...)
	if !binary {
		return append(out, key...)
	}
	out = appendBase64(out, key)
	return append(out, " b"...)
}

// appendOpaqueAndKey appends the O and k flags in request order, which is
// all memcached echoes on misses and failures.
func appendOpaqueAndKey(out []byte, m *MetaFlags, key []byte) []byte {
	for _, t := range m.Tokens {
		switch t[0] {
		case 'O':
			out = append(out, ' ')
			out = append(out, t...)
		case 'k':
			out = appendMetaKey(out, key, m.Base64Key)
		}
	}
	return out
}

// metaExpiry applies the T and (on creation) N flags in token order, as
// memcached's reply loops do, to an item whose expiry was old.
func metaExpiry(m *MetaFlags, old int64, created bool, now time.Time) int64 {
	exp := old
	for _, t := range m.Tokens {
		switch {
		case t[0] == 'T':
			exp = expiresAt(m.TTL, now)
		case t[0] == 'N' && created:
			exp = expiresAt(m.VivifyTTL, now)
		}
	}
	return exp
}

// metaGet serves mg.
func (e *Executor) metaGet(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	m := &cmd.Meta
	key := e.metaKey(s, cmd)
	sib, ok, created, err := e.metaFetch(s, key, m, now)
	if err != nil {
		return appendLine(out, storageError(err))
	}
	touched := m.HasTTL
	e.countGet(touched, ok)
	if !ok {
		if m.Quiet {
			return out
		}
		out = append(out, "EN"...)
		out = appendOpaqueAndKey(out, m, key)
		return append(out, "\r\n"...)
	}
	st := e.leases.get(key, s.obj.CAS)
	if created {
		// The creator wins the token (W), it does not see it as taken (Z).
		st = lease{}
	}
	var fetched bool
	var lastAccess int64
	if metaWantsAccess(m) {
		fetched, lastAccess = e.access.seen(key, s.obj.CAS, now, !metaNoUpdate(m))
		if lastAccess == 0 {
			lastAccess = hlc.Time(sib.Timestamp).Unix() // never fetched: written then
		}
	} else if !metaNoUpdate(m) {
		e.access.fetched(key, s.obj.CAS, now)
	}
	won := false
	if m.Value {
		out = append(out, "VA "...)
		out = appendUint(out, uint64(len(sib.Value)))
	} else {
		out = append(out, "HD"...)
	}
	for _, t := range m.Tokens {
		switch t[0] {
		case 'N':
			won = won || created
		case 'R':
			if !st.tokenSent && !created && sib.Expires != 0 && sib.Expires < expiresAt(m.RecacheTTL, now) {
				won = true
			}
		case 's':
			out = append(out, " s"...)
			out = appendUint(out, uint64(len(sib.Value)))
		case 't':
			out = append(out, " t"...)
			out = appendInt(out, ttl(sib.Expires, now))
		case 'c':
			out = append(out, " c"...)
			out = appendUint(out, s.obj.CAS)
		case 'f':
			out = append(out, " f"...)
			out = appendUint(out, uint64(sib.Flags))
		case 'h':
			out = append(out, " h"...)
			if fetched {
				out = append(out, '1')
			} else {
				out = append(out, '0')
			}
		case 'l':
			out = append(out, " l"...)
			out = appendInt(out, max(now.Unix()-lastAccess, 0))
		case 'O':
			out = append(out, ' ')
			out = append(out, t...)
		case 'k':
			out = appendMetaKey(out, key, m.Base64Key)
		case 'X':
			out = append(out, " X"...)
			out = appendContext(out, s.obj.Context)
		case 'Y':
			out = append(out, " Y"...)
			out = appendUint(out, uint64(len(s.obj.Siblings)))
		}
	}
	if st.tokenSent {
		out = append(out, " Z"...)
	}
	if st.stale {
		out = append(out, " X"...)
		won = won || !st.tokenSent
	}
	if won {
		out = append(out, " W"...)
		st.cas, st.tokenSent = s.obj.CAS, true
		e.leases.set(key, st)
	}
	out = append(out, "\r\n"...)
	if m.Value {
		out = append(out, sib.Value...)
		out = append(out, "\r\n"...)
	}
	return out
}

// hasFlag reports whether the meta command carries flag c.
func (m *MetaFlags) hasFlag(c byte) bool {
	for _, t := range m.Tokens {
		if t[0] == c {
			return true
		}
	}
	return false
}

// metaWantsAccess reports whether mg asks for h or l.
func metaWantsAccess(m *MetaFlags) bool { return m.hasFlag('h') || m.hasFlag('l') }

// metaNoUpdate reports mg's u: do not count this read as an access.
func metaNoUpdate(m *MetaFlags) bool { return m.hasFlag('u') }

// metaFetch reads key for mg, creating an empty item on a miss when N asks
// for it and applying T on a hit. s.obj holds the item afterwards.
func (e *Executor) metaFetch(s *Session, key []byte, m *MetaFlags, now time.Time) (*kv.Sibling, bool, bool, error) {
	for range e.opts.Retries {
		sib, ok, err := e.read(s, key)
		if err != nil {
			return nil, false, false, err
		}
		if !ok && m.Vivify {
			created, err := e.vivify(s, key, metaExpiry(m, 0, true, now))
			if errors.Is(err, kv.ErrNotStored) {
				continue // someone else created it: read theirs
			}
			return created, err == nil, err == nil, err
		}
		if !ok || !m.HasTTL {
			return sib, ok, false, nil
		}
		sib, err = e.retouch(s, key, sib, expiresAt(m.TTL, now))
		switch {
		case errors.Is(err, kv.ErrExists):
			continue
		case errors.Is(err, kv.ErrNotFound):
			return nil, false, false, nil
		case err != nil:
			return nil, false, false, err
		}
		return sib, true, false, nil
	}
	return nil, false, false, errContention
}

// vivify creates the empty placeholder item of mg N and marks its win token
// as handed out; s.obj describes the new item afterwards.
func (e *Executor) vivify(s *Session, key []byte, expires int64) (*kv.Sibling, error) {
	s.put = kv.PutRequest{Expires: expires, SupersedeAll: true, Cond: kv.CondAbsent}
	res, err := e.putReq(s, key)
	if err != nil {
		return nil, err
	}
	s.obj.Reset()
	s.obj.Siblings = append(s.obj.Siblings, kv.Sibling{Expires: expires})
	s.obj.Context = append(s.obj.Context, res.Context...)
	s.obj.CAS = res.CAS
	e.leases.set(key, lease{cas: res.CAS, tokenSent: true})
	return &s.obj.Siblings[0], nil
}

// metaDebug serves me. memcached prints internal item fields; the ones that
// exist here are the expiry (seconds left, -1 for none), the CAS and the
// value size, plus the number of versions.
func (e *Executor) metaDebug(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	e.stats.cmdMeta.Add(1)
	key := e.metaKey(s, cmd)
	sib, ok, err := e.read(s, key)
	if err != nil {
		return appendLine(out, storageError(err))
	}
	if !ok {
		return append(out, "EN\r\n"...)
	}
	out = append(out, "ME "...)
	if cmd.Meta.Base64Key {
		out = appendBase64(out, key)
	} else {
		out = append(out, key...)
	}
	out = append(out, " exp="...)
	out = appendInt(out, ttl(sib.Expires, now))
	out = append(out, " cas="...)
	out = appendUint(out, s.obj.CAS)
	out = append(out, " size="...)
	out = appendUint(out, uint64(len(sib.Value)))
	out = append(out, " siblings="...)
	out = appendUint(out, uint64(len(s.obj.Siblings)))
	return append(out, "\r\n"...)
}

// appendLine appends msg and CRLF.
func appendLine(out []byte, msg string) []byte {
	out = append(out, msg...)
	return append(out, "\r\n"...)
}
