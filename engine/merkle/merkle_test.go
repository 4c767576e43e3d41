package merkle

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

type item struct {
	hash     uint64
	key, rec string
}

func build(t *testing.T, lo, hi uint64, items []item) *Tree {
	t.Helper()
	tr, err := New(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		tr.Add(it.hash, []byte(it.key), []byte(it.rec))
	}
	tr.Seal()
	return tr
}

func TestSegmentsCoverThePartition(t *testing.T) {
	for _, r := range []struct{ lo, hi uint64 }{{0, 0}, {0, 1 << 54}, {3 << 54, 4 << 54}, {^uint64(0) - (1 << 54) + 1, 0}} {
		tr, err := New(r.lo, r.hi)
		if err != nil {
			t.Fatalf("%x-%x: %v", r.lo, r.hi, err)
		}
		prevHi := r.lo
		for i := range Leaves {
			lo, hi := tr.SegmentRange(i)
			if lo != prevHi {
				t.Fatalf("segment %d starts at %x, previous ended at %x", i, lo, prevHi)
			}
			if tr.Segment(lo) != i || (hi != 0 && tr.Segment(hi-1) != i) {
				t.Fatalf("segment %d's bounds map elsewhere", i)
			}
			prevHi = hi
		}
		if prevHi != r.hi {
			t.Fatalf("last segment ends at %x, partition at %x", prevHi, r.hi)
		}
	}
	for _, bad := range []struct{ lo, hi uint64 }{{0, 3}, {0, 32}, {1, 1 << 20}} {
		if _, err := New(bad.lo, bad.hi); err == nil {
			t.Fatalf("range %x-%x accepted", bad.lo, bad.hi)
		}
	}
}

func TestOrderIndependentAndSensitive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var items []item
	for i := range 500 {
		items = append(items, item{rng.Uint64(), fmt.Sprint("k", i), fmt.Sprint("r", i)})
	}
	a := build(t, 0, 0, items)
	shuffled := append([]item(nil), items...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if b := build(t, 0, 0, shuffled); b.Root() != a.Root() {
		t.Fatal("root depends on the order of records")
	}
	// One changed record: exactly its segment differs.
	changed := append([]item(nil), items...)
	changed[42].rec = "other"
	c := build(t, 0, 0, changed)
	if c.Root() == a.Root() {
		t.Fatal("a changed record left the root unchanged")
	}
	diff, err := a.DiffLeaves(c.AppendLeaves(nil))
	if err != nil || len(diff) != 1 || diff[0] != a.Segment(items[42].hash) {
		t.Fatalf("diff = %v (%v), want [%d]", diff, err, a.Segment(items[42].hash))
	}
	// A missing record too.
	d := build(t, 0, 0, items[1:])
	if diff, _ := a.DiffLeaves(d.AppendLeaves(nil)); len(diff) != 1 || diff[0] != a.Segment(items[0].hash) {
		t.Fatalf("missing record: diff = %v", diff)
	}
	if _, err := a.DiffLeaves([]byte{1, 2}); err == nil {
		t.Fatal("short leaves accepted")
	}
}

// Leaf is a segment's digest as AppendLeaves encodes it, and zero for an
// empty segment (handoff reads which segments hold anything from it).
func TestLeaf(t *testing.T) {
	one := build(t, 0, 0, []item{{1 << 60, "k", "r"}})
	leaves := one.AppendLeaves(nil)
	for i := range Leaves {
		l := one.Leaf(i)
		if string(l[:]) != string(leaves[i*DigestSize:(i+1)*DigestSize]) {
			t.Fatalf("Leaf(%d) differs from its encoding", i)
		}
		if full := i == one.Segment(1<<60); (l != Digest{}) != full {
			t.Fatalf("Leaf(%d) = %x; the one item is in segment %d", i, l, one.Segment(1<<60))
		}
	}
}

// BenchmarkItemDigest is the cost a kept tree adds to a write, twice
// (engine/trees.go): a 1 KiB record.
func BenchmarkItemDigest(b *testing.B) {
	key, rec := []byte("key:000123"), make([]byte, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		ItemDigest(key, rec)
	}
}
