package engine

import (
	"encoding/binary"
	"fmt"

	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/record"
)

// The replica side of the engine: what a cluster coordinator needs beyond
// KV to read raw state from replicas, merge it, and write merged state back
// (replication, read repair, hinted handoff, partition transfer).

// Record appends key's stored record to dst; found is false when the key
// has none.
func (e *Engine) Record(key, dst []byte) (rec []byte, found bool, err error) {
	if len(key) == 0 || len(key) > kv.MaxKeyLen {
		return dst, false, kv.ErrKeyTooLong
	}
	if e.closed.Load() {
		return dst, false, kv.ErrClosed
	}
	// The cache is keyed by the client's key: a hit needs no hash of it.
	if v, ok := e.cache.Get(key, dst); ok {
		return v, true, nil
	}
	var kb [dataHeader + kv.MaxKeyLen]byte
	return e.readStored(appendDataKey(kb[:0], hashKey(key), key), dst)
}

// MergeRecord merges a replica's record of key into the local one, under
// the key's lock, and stores the result if it differs. It reports whether
// the local record changed.
func (e *Engine) MergeRecord(key, rec []byte, d kv.Durability) (changed bool, err error) {
	return e.MergeRecordHinted(key, rec, d)
}

// MergeRecordHinted is MergeRecord for a replica that must also remember
// that the key is owed to other nodes: a fallback standing in for an
// owner, or any replica of a write some owner missed. Under the same lock
// it records a hint for each of owed, so no hand-off can drop the record
// between the two, and every replica that took the write can deliver it.
//
// A merge of a key reaped here moments ago whose record is no newer than
// the reaped one is dropped (see fence): a late message must not bring
// back what every replica agreed was dead.
func (e *Engine) MergeRecordHinted(key, rec []byte, d kv.Durability, owed ...string) (changed bool, err error) {
	changed, _, err = e.Merge(key, rec, d, owed...)
	return changed, err
}

// Merge is MergeRecordHinted that also returns the Digest of the record
// it leaves (0 when it leaves none): a coordinator compares it with its
// own, and a replica that turns out to hold more than the coordinator sent
// is repaired at once rather than at the next anti-entropy pass.
func (e *Engine) Merge(key, rec []byte, d kv.Durability, owed ...string) (changed bool, digest uint64, err error) {
	s := e.scratch.Get().(*scratch)
	defer e.scratch.Put(s)
	defer s.dropWaits()
	changed, digest, err = e.mergeLocked(key, rec, d, owed, s)
	if werr := s.await(); err == nil && werr != nil {
		return false, 0, werr
	}
	return changed, digest, err
}

// mergeLocked is Merge under the key's lock; the durability d asks for is
// awaited after it is released.
func (e *Engine) mergeLocked(key, rec []byte, d kv.Durability, owed []string, s *scratch) (changed bool, digest uint64, err error) {
	if err := record.Decode(&s.peer, rec); err != nil {
		return false, 0, fmt.Errorf("engine: merging key %q: %w", key, err)
	}
	mu, found, err := e.lockRecord(key, s)
	if err != nil {
		return false, 0, err
	}
	defer mu.Unlock()
	raw := s.raw
	if d == kv.DurabilityDefault {
		d = e.opts.Durability
	}
	if e.fence.strip(key, &s.peer, rec, e.now()) {
		e.stats.fenced.Add(1)
		if !found && len(s.peer.Siblings) == 0 {
			return false, 0, e.flushFor(s, d)
		}
	}
	var local dvv.Clock
	if found {
		local = s.rec.Clock
	}
	if err := e.mergedOwnAhead(key, local, s.peer.Clock); err != nil {
		return false, 0, err
	}
	merged := &s.next
	mergeInto(merged, &s.rec, &s.peer)
	for i := range merged.Siblings {
		e.clock.Observe(merged.Siblings[i].Timestamp)
	}
	s.enc = record.Append(s.enc[:0], merged)
	for _, owner := range owed {
		if owner == "" {
			continue
		}
		if err := e.addHintLocked(s, owner, key, d); err != nil {
			return false, 0, err
		}
	}
	if found && string(s.enc) == string(raw) {
		return false, Digest(raw), e.flushFor(s, d)
	}
	if err := e.writeRecord(s, s.key, oldRecord(found, raw), s.enc, d); err != nil {
		return false, 0, err
	}
	e.observe(Event{What: EventMerge, Key: key, Record: s.enc})
	e.stats.replaced(len(s.key), found, found && hasValue(&s.rec), len(raw), true, hasValue(merged), len(s.enc))
	e.stats.merges.Add(1)
	return true, Digest(s.enc), nil
}

// MergeRecords appends to dst the merge of two encoded records of one key
// (either may be empty, meaning no record). Coordinators use it to combine
// replica answers.
func MergeRecords(dst, a, b []byte) ([]byte, error) {
	var ra, rb, out record.Record
	if len(a) > 0 {
		if err := record.Decode(&ra, a); err != nil {
			return dst, err
		}
	}
	if len(b) > 0 {
		if err := record.Decode(&rb, b); err != nil {
			return dst, err
		}
	}
	mergeInto(&out, &ra, &rb)
	return record.Append(dst, &out), nil
}

// FillObject fills o from an encoded record of key as Get would:
// invisible (expired, flushed) siblings left out, context and cas set.
func (e *Engine) FillObject(key, rec []byte, o *kv.Object) error {
	o.Reset()
	if len(rec) == 0 {
		return nil
	}
	var r record.Record
	if err := record.Decode(&r, rec); err != nil {
		return err
	}
	e.fillObject(o, key, &r)
	return nil
}

// mergeInto sets out to the merge of a and b (dvv.Merge on their dots).
// Values alias a's and b's buffers; out must not share a clock buffer with
// either.
func mergeInto(out, a, b *record.Record) {
	out.Reset()
	dotsA := make([]dvv.Dot, len(a.Siblings))
	for i := range a.Siblings {
		dotsA[i] = a.Siblings[i].Dot
	}
	dotsB := make([]dvv.Dot, len(b.Siblings))
	for i := range b.Siblings {
		dotsB[i] = b.Siblings[i].Dot
	}
	keepA := make([]bool, len(dotsA))
	keepB := make([]bool, len(dotsB))
	out.Clock = dvv.Merge(out.Clock[:0], a.Clock, dotsA, b.Clock, dotsB, keepA, keepB)
	for i, k := range keepA {
		if !k {
			continue
		}
		sib := a.Siblings[i]
		// A dot names one write, so both copies should be the same. Should
		// they ever differ, every replica keeps the same one, so that they
		// still converge rather than each keeping its own for good.
		for j := range b.Siblings {
			if b.Siblings[j].Dot == sib.Dot && record.Compare(&b.Siblings[j], &sib) > 0 {
				sib = b.Siblings[j]
			}
		}
		out.Siblings = append(out.Siblings, sib)
	}
	for j, k := range keepB {
		if k {
			out.Siblings = append(out.Siblings, b.Siblings[j])
		}
	}
	out.Sort()
}

// ScanHashRange calls fn with the key and record of every key whose ring
// hash is in [lo, hi) (hi == 0: to the end of the hash space), in hash
// order, until fn returns false. A ring partition is one such range, and
// one contiguous range of the store. The slices are valid only during fn.
func (e *Engine) ScanHashRange(lo, hi uint64, fn func(key, rec []byte) bool) error {
	if e.closed.Load() {
		return kv.ErrClosed
	}
	start := binary.BigEndian.AppendUint64([]byte{prefixData}, lo)
	end := dataHi
	if hi != 0 {
		end = binary.BigEndian.AppendUint64([]byte{prefixData}, hi)
	}
	return e.st.Scan(start, end, func(k, v []byte) bool {
		return fn(userKey(k), v)
	})
}
