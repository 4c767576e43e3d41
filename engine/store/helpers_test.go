package store

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// testOptions are small and fast: a memory FS, small caches, and a flush
// interval long enough that nothing leaves the buffer unless a test asks.
func testOptions(fs vfs.FS) Options {
	return Options{
		Dir:           "db",
		FS:            fs,
		FlushInterval: time.Hour,
		SyncInterval:  -1,
		CacheBytes:    8 << 20,
		MemTableBytes: 4 << 20,
	}
}

func mustOpen(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustSet(t testing.TB, s *Store, key, value string, d Durability) {
	t.Helper()
	if err := s.Set([]byte(key), []byte(value), d); err != nil {
		t.Fatalf("Set(%q, %v): %v", key, d, err)
	}
}

func mustDelete(t testing.TB, s *Store, key string, d Durability) {
	t.Helper()
	if err := s.Delete([]byte(key), d); err != nil {
		t.Fatalf("Delete(%q, %v): %v", key, d, err)
	}
}

func mustFlush(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// expectGet checks Get(key); want == "" with !found means absent.
func expectGet(t testing.TB, s *Store, key, want string, wantFound bool) {
	t.Helper()
	prefix := []byte("prefix:")
	got, found, err := s.Get([]byte(key), prefix)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("Get(%q) did not append to dst: %q", key, got)
	}
	got = got[len(prefix):]
	if found != wantFound || string(got) != want {
		t.Fatalf("Get(%q) = %q, %v; want %q, %v", key, got, found, want, wantFound)
	}
}

// scanAll returns "k=v" pairs of Scan(lo, hi), stopping after limit pairs
// when limit > 0.
func scanAll(t testing.TB, s *Store, lo, hi []byte, limit int) []string {
	t.Helper()
	var out []string
	err := s.Scan(lo, hi, func(k, v []byte) bool {
		out = append(out, fmt.Sprintf("%s=%s", k, v))
		return limit <= 0 || len(out) < limit
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return out
}

// waitFor polls cond until it holds or a generous deadline passes. Used only
// to observe a goroutine reaching a blocking point, never to order events.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
