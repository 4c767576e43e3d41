package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Scan calls fn for each live key in [lo, hi) in ascending order, with the
// buffer overlaid on Pebble (buffered tombstones hide Pebble's keys). A nil
// bound is open. It stops early when fn returns false. key and value are
// valid only during fn and must not be modified. fn may call Get, Set and
// Delete, but not Close.
//
// Each key shows a value that was current at some moment during the scan,
// and every write acknowledged before Scan began is seen.
func (s *Store) Scan(lo, hi []byte, fn func(key, value []byte) bool) error {
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.exit()
	if lo != nil && hi != nil && bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	// The buffer is read before the iterator opens: an entry the writer
	// removes after this point is already committed, so the iterator sees
	// it. The other order could miss a write committed in between.
	buffered := s.buf.collect(lo, hi, nil)
	slices.SortFunc(buffered, func(a, b pending) int { return strings.Compare(a.key, b.key) })
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("store: scan: %w", err)
	}
	err = merge(it, buffered, fn)
	if cerr := it.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("store: scan: %w", cerr))
	}
	return err
}

// merge walks the sorted buffered entries and the iterator together; on
// equal keys the buffer wins.
func merge(it *pebble.Iterator, buffered []pending, fn func(key, value []byte) bool) error {
	valid := it.First()
	for i := 0; valid || i < len(buffered); {
		var cmp int // which side comes first: <0 buffer, >0 pebble, 0 both
		switch {
		case i == len(buffered):
			cmp = 1
		case !valid:
			cmp = -1
		default:
			cmp = bytes.Compare(buffered[i].keyBytes(), it.Key())
		}
		if cmp <= 0 {
			p := &buffered[i]
			i++
			if cmp == 0 {
				valid = it.Next()
			}
			if !p.del && !fn(p.keyBytes(), p.value) {
				return nil
			}
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("store: scan: %w", err)
		}
		if !fn(it.Key(), v) {
			return nil
		}
		valid = it.Next()
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("store: scan: %w", err)
	}
	return nil
}
