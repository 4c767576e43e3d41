package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/merkle"
)

// treeParts is the partition count the tree tests cut the hash space in.
const treeParts = 16

func partRange(p int) (lo, hi uint64) {
	w := uint64(1) << 60 // 2^64 / 16
	return uint64(p) * w, uint64(p+1) * w
}

// scanTree builds partition p's tree from a scan, as if nothing were kept.
func scanTree(t *testing.T, e *Engine, p int) *merkle.Tree {
	t.Helper()
	tree, _, err := e.ScanTree(partRange(p))
	if err != nil {
		t.Fatal(err)
	}
	tree.Seal()
	return tree
}

// checkKeptTrees asks for every partition's tree and compares it with a
// fresh scan's; it reports how many were served without a scan.
func checkKeptTrees(t *testing.T, e *Engine, when string) (kept int) {
	t.Helper()
	for p := range treeParts {
		lo, hi := partRange(p)
		got, scanned, err := e.PartitionTree(lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		if scanned == 0 {
			kept++
		}
		if want := scanTree(t, e, p); got.Root() != want.Root() {
			t.Fatalf("%s: partition %d's kept tree differs from a scan's (scanned %d)", when, p, scanned)
		}
	}
	return kept
}

// Every kind of change to a record (a put, a delete's tombstone, a merge
// of another replica's record, a drop, a reap) keeps the partition trees
// equal to what a scan builds, and a kept tree is served without one.
func TestKeptTreesFollowEveryWrite(t *testing.T) {
	a, b := newFixture(t, func(o *Options) { o.Replicated = true }), newFixture(t, func(o *Options) { o.Replicated = true })
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() string { return fmt.Sprintf("k%d", rng.IntN(300)) }
	checkKeptTrees(t, a.e, "empty")
	for step := range 3000 {
		k := key()
		switch op := rng.IntN(10); {
		case op < 5:
			a.mustPut(k, set(fmt.Sprintf("v%d", step)))
		case op < 6:
			if _, err := a.put(k, kv.PutRequest{Delete: true, SupersedeAll: true}); err != nil {
				t.Fatal(err)
			}
		case op < 8:
			b.mustPut(k, set(fmt.Sprintf("b%d", step)))
			rec, found, err := b.e.Record([]byte(k), nil)
			if err != nil || !found {
				t.Fatal(found, err)
			}
			if _, err := a.e.MergeRecord([]byte(k), rec, kv.Buffered); err != nil {
				t.Fatal(err)
			}
		default:
			rec, found, err := a.e.Record([]byte(k), nil)
			if err != nil {
				t.Fatal(err)
			}
			if found {
				if _, err := a.e.DropRecordIf([]byte(k), rec); err != nil {
					t.Fatal(err)
				}
			}
		}
		if step%500 == 499 {
			checkKeptTrees(t, a.e, fmt.Sprintf("step %d", step))
		}
	}
	if kept := checkKeptTrees(t, a.e, "end"); kept != treeParts {
		t.Fatalf("%d of %d trees served without a scan after being asked for", kept, treeParts)
	}
	// Reaped: tombstones past their time go.
	a.clock.Add(365 * 24 * time.Hour)
	a.e.reapRound(nil)
	if a.e.stats.reaped.Load() == 0 {
		t.Fatal("nothing reaped")
	}
	checkKeptTrees(t, a.e, "after reaping")
}

// A store write that fails leaves the store's state uncertain: the tree is
// dropped and built again by the next request.
func TestFailedWriteDropsTheKeptTree(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Replicated = true })
	f.mustPut("k", set("v1"))
	checkKeptTrees(t, f.e, "before")
	f.st.failSet = errors.New("disk gone")
	if _, err := f.put("k", set("v2")); err == nil {
		t.Fatal("a put succeeded with the store failing")
	}
	f.st.failSet = nil
	p := int(hashKey([]byte("k")) >> 60)
	lo, hi := partRange(p)
	if _, scanned, err := f.e.PartitionTree(lo, hi); err != nil || scanned == 0 {
		t.Fatalf("partition of the failed write served without a scan (scanned %d, err %v)", scanned, err)
	}
	checkKeptTrees(t, f.e, "after")
}

// Writers and tree requests at once (under -race): when they stop, every
// kept tree equals a scan's. A build holds its partition while it scans,
// so a write lands either in the scan or as a fold, never both.
func TestKeptTreesUnderConcurrentWrites(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Replicated = true })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 2000 {
				k := fmt.Sprintf("k%d", rng.IntN(500))
				if _, err := f.e.Put([]byte(k), &kv.PutRequest{Value: []byte(fmt.Sprint(i)), SupersedeAll: true}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 400 {
			lo, hi := partRange(i % treeParts)
			if _, _, err := f.e.PartitionTree(lo, hi); err != nil {
				t.Error(err)
				return
			}
			if i%40 == 0 {
				// Exact while the writers run: it holds each partition.
				if wrong, err := f.e.CheckKeptTrees(); len(wrong) > 0 || err != nil {
					t.Errorf("kept trees differ from scans mid-run: %#x %v", wrong, err)
					return
				}
			}
		}
	})
	wg.Wait()
	checkKeptTrees(t, f.e, "after concurrent writes")
}

// Trees of another partition width than the one in use are refused, so
// the caller builds its own: the kept trees follow one width.
func TestKeptTreesRefuseAnotherWidth(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Replicated = true })
	lo, hi := partRange(3)
	if _, _, err := f.e.PartitionTree(lo, hi); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.e.PartitionTree(0, 1<<59); !errors.Is(err, ErrTreeRange) {
		t.Fatalf("a tree of half the width: %v, want ErrTreeRange", err)
	}
}

// ScanSegmentIf scans a segment only while the partition's kept tree has
// the leaf the caller names, and then gives exactly the records of that
// leaf: none before a tree is kept, none for a leaf a write has changed,
// and the segment's own records (no other segment's) for the right one.
func TestScanSegmentIf(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Replicated = true })
	for i := range 400 {
		f.mustPut(fmt.Sprintf("k%d", i), set("v"))
	}
	lo, hi := partRange(3)
	want := scanTree(t, f.e, 3)
	seg := -1
	for s := range merkle.Leaves {
		if want.Leaf(s) != (merkle.Digest{}) {
			seg = s
			break
		}
	}
	if seg < 0 {
		t.Fatal("partition 3 holds no record")
	}
	scan := func(leaf merkle.Digest) (bool, *merkle.Tree) {
		got, err := merkle.New(lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := f.e.ScanSegmentIf(lo, hi, seg, leaf, func(key, rec []byte) bool {
			got.Add(hashKey(key), key, rec)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return ok, got
	}
	if ok, _ := scan(want.Leaf(seg)); ok {
		t.Fatal("scanned with no tree kept")
	}
	if _, _, err := f.e.PartitionTree(lo, hi); err != nil {
		t.Fatal(err)
	}
	ok, got := scan(want.Leaf(seg))
	if !ok {
		t.Fatal("did not scan for the kept leaf")
	}
	for s := range merkle.Leaves {
		if w := map[bool]merkle.Digest{true: want.Leaf(s)}[s == seg]; got.Leaf(s) != w {
			t.Fatalf("segment %d of the scan is %x, want %x", s, got.Leaf(s), w)
		}
	}
	// A write to the segment changes its leaf: the old one scans nothing.
	var key string
	slo, shi := got.SegmentRange(seg)
	f.e.ScanHashRange(slo, shi, func(k, _ []byte) bool { key = string(k); return false })
	f.mustPut(key, set("changed"))
	if ok, _ := scan(want.Leaf(seg)); ok {
		t.Fatal("scanned for a leaf a write has changed")
	}
}
