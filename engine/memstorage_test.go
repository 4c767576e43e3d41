package engine

import (
	"bytes"
	"errors"
	"slices"
	"sync"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// memStorage is an in-memory Storage with fault injection, so engine logic
// tests are deterministic and independent of Pebble.
type memStorage struct {
	mu      sync.Mutex
	m       map[string][]byte
	failSet error // returned by Set/Delete while non-nil
	sets    []kv.Durability
	flushes int
	closed  bool
}

func newMemStorage() *memStorage { return &memStorage{m: map[string][]byte{}} }

func (s *memStorage) Get(key, dst []byte) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[string(key)]
	if !ok {
		return dst, false, nil
	}
	return append(dst, v...), true, nil
}

func (s *memStorage) Set(key, value []byte, d kv.Durability) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSet != nil {
		return s.failSet
	}
	s.sets = append(s.sets, d)
	s.m[string(key)] = bytes.Clone(value)
	return nil
}

func (s *memStorage) Delete(key []byte, d kv.Durability) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSet != nil {
		return s.failSet
	}
	delete(s.m, string(key))
	return nil
}

func (s *memStorage) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	return s.failSet
}

func (s *memStorage) Scan(lo, hi []byte, fn func(k, v []byte) bool) error {
	s.mu.Lock()
	var keys []string
	for k := range s.m {
		if k >= string(lo) && k < string(hi) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = s.m[k]
	}
	s.mu.Unlock()
	for i, k := range keys {
		if !fn([]byte(k), vals[i]) {
			break
		}
	}
	return nil
}

func (s *memStorage) Stats() []kv.Stat { return []kv.Stat{{Name: "fake_store", Value: "1"}} }

func (s *memStorage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("closed twice")
	}
	s.closed = true
	return nil
}

// reopen returns a fresh handle on the same contents, as after a restart.
func (s *memStorage) reopen() *memStorage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &memStorage{m: s.m}
}
