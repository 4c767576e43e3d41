package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func newTestBuffer() *buffer {
	b := &buffer{}
	b.init(newRound())
	return b
}

func TestBufferRemoveKeepsOverwrites(t *testing.T) {
	cases := []struct {
		name         string
		afterCapture func(b *buffer)
		wantLeft     []string // keys still buffered after remove
	}{
		{"nothing new", func(*buffer) {}, nil},
		{"overwrite", func(b *buffer) { b.put([]byte("a"), []byte("2"), false, Buffered) }, []string{"a"}},
		{"delete", func(b *buffer) { b.put([]byte("b"), nil, true, Buffered) }, []string{"b"}},
		{"new key", func(b *buffer) { b.put([]byte("c"), []byte("1"), false, Buffered) }, []string{"c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newTestBuffer()
			b.put([]byte("a"), []byte("1"), false, Buffered)
			b.put([]byte("b"), []byte("1"), false, Buffered)
			captured := b.capture(nil)
			if len(captured) != 2 {
				t.Fatalf("captured %d entries, want 2", len(captured))
			}
			c.afterCapture(b)
			freed := b.remove(captured)
			var left []string
			for _, p := range b.collect(nil, nil, nil) {
				left = append(left, p.key)
			}
			slices.Sort(left)
			if !slices.Equal(left, c.wantLeft) {
				t.Fatalf("left %v, want %v", left, c.wantLeft)
			}
			if int(b.entries.Load()) != len(c.wantLeft) {
				t.Fatalf("entries = %d, want %d", b.entries.Load(), len(c.wantLeft))
			}
			if freed <= 0 {
				t.Fatalf("freed %d bytes", freed)
			}
		})
	}
}

func TestBufferPutReportsReplacedSize(t *testing.T) {
	b := newTestBuffer()
	if _, replaced, _ := b.put([]byte("k"), []byte("12345"), false, Buffered); replaced != 0 {
		t.Fatalf("first put replaced %d bytes", replaced)
	}
	if _, replaced, _ := b.put([]byte("k"), nil, true, Buffered); replaced != entrySize(1, 5) {
		t.Fatalf("overwrite replaced %d bytes, want %d", replaced, entrySize(1, 5))
	}
	e, ok := b.get([]byte("k"))
	if !ok || !e.del {
		t.Fatalf("get after delete = %+v, %v; want a tombstone", e, ok)
	}
}

func TestBufferCopiesCallerBytes(t *testing.T) {
	b := newTestBuffer()
	key, value := []byte("key"), []byte("value")
	b.put(key, value, false, Buffered)
	copy(key, "XXX")
	copy(value, "XXXXX")
	if e, ok := b.get([]byte("key")); !ok || string(e.value) != "value" {
		t.Fatalf("get = %q, %v after the caller reused its slices", e.value, ok)
	}
}

func TestBufferWaitersJoinUpcomingRound(t *testing.T) {
	b := newTestBuffer()
	first := b.upcoming.Load()
	if r, _, _ := b.put([]byte("x"), nil, false, Buffered); r != nil {
		t.Fatal("a Buffered put got a round to wait for")
	}
	r, _, _ := b.put([]byte("y"), nil, false, WAL)
	if r != first || !r.wanted.Load() || r.wantSync.Load() {
		t.Fatalf("WAL put: round %p (want %p), wanted %v, wantSync %v", r, first, r.wanted.Load(), r.wantSync.Load())
	}
	b.upcoming.Store(newRound())
	r, _, _ = b.put([]byte("z"), nil, false, Sync)
	if r == first || !r.wantSync.Load() {
		t.Fatal("a Sync put after the swap did not register with the new round")
	}
}

func TestBufferStop(t *testing.T) {
	b := newTestBuffer()
	b.put([]byte("k"), nil, false, Buffered)
	b.stop(ErrClosed)
	b.stop(errors.New("second reason"))
	if _, _, err := b.put([]byte("k2"), nil, false, Buffered); err != ErrClosed {
		t.Fatalf("put after stop = %v, want ErrClosed", err)
	}
	if _, ok := b.get([]byte("k")); !ok {
		t.Fatal("stop dropped a buffered entry")
	}
}

func TestBufferCollectBounds(t *testing.T) {
	b := newTestBuffer()
	for i := range 50 {
		b.put(fmt.Appendf(nil, "k%02d", i), nil, false, Buffered)
	}
	cases := []struct {
		lo, hi string
		want   int
	}{
		{"", "", 50},
		{"k10", "", 40},
		{"", "k10", 10},
		{"k10", "k20", 10},
		{"k105", "k11", 0},
		{"l", "", 0},
	}
	for _, c := range cases {
		var lo, hi []byte
		if c.lo != "" {
			lo = []byte(c.lo)
		}
		if c.hi != "" {
			hi = []byte(c.hi)
		}
		got := b.collect(lo, hi, nil)
		for _, p := range got {
			if (c.lo != "" && p.key < c.lo) || (c.hi != "" && strings.Compare(p.key, c.hi) >= 0) {
				t.Errorf("collect(%q, %q) returned %q", c.lo, c.hi, p.key)
			}
		}
		if len(got) != c.want {
			t.Errorf("collect(%q, %q) = %d entries, want %d", c.lo, c.hi, len(got), c.want)
		}
	}
}
