package engine

import (
	"errors"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/merkle"
)

// Partition trees, kept up to date on writes (Dynamo §4.7's anti-entropy
// and the cluster's catch-up pulls compare them). A partition's tree is
// built from a scan the first time it is asked for; from then on every
// write and delete in the partition folds the old record out of its leaf
// and the new one in (a leaf is the XOR of its items' digests, so the
// order does not matter), and the next request costs a copy of 64 leaves,
// not a read of the partition. A write pays two item digests only in a
// partition a tree was asked of; until the first tree is asked for, a
// shared lock (see trees.setup); on a single node (not Replicated),
// nothing: no tree is kept there.
//
// Exactness: a build holds its partition's lock exclusively while it
// scans; a writer holds it shared from before its store write until its
// leaf is updated. So a build sees each write either before it (in the
// scan) or after (as a fold), never both or neither. A store write that
// fails leaves the store's state uncertain: the partition's tree is
// dropped and the next request scans again.

// ErrTreeRange: a tree asked for a range that is not a partition of the
// width the engine's trees already use (a ring's partition count is fixed).
var ErrTreeRange = errors.New("engine: tree range is not a partition of the width in use")

type trees struct {
	// setup is held exclusively while the set is created, and shared by
	// a writer that found no set, across its store write: the set's
	// first build then cannot start while a write that saw no set to
	// fold into is in flight.
	setup sync.RWMutex
	set   atomic.Pointer[treeSet] // nil until the first tree is asked for
}

// treeSet holds one slot per partition of a fixed width: 32 bytes each
// (2 MiB at the largest partition count), the tree itself (2 KiB) only
// for partitions a tree was asked of.
type treeSet struct {
	bits  uint // a partition spans 1<<bits hashes (64: the whole space)
	parts []partTree
}

type partTree struct {
	// mu is held shared by writers across their store write and fold,
	// exclusively by a build across its scan.
	mu   sync.RWMutex
	kept atomic.Pointer[keptTree] // nil until a tree of the partition is asked for
}

type keptTree struct {
	ready atomic.Bool // tree holds the partition's leaves
	fold  sync.Mutex  // serialises folds of concurrent writers (under mu shared)
	tree  merkle.Tree // leaves only; copies are sealed for callers
}

// of returns the partition slot for hash, nil while no tree was ever
// asked for.
func (tr *trees) of(hash uint64) *partTree {
	s := tr.set.Load()
	if s == nil {
		return nil
	}
	if s.bits == 64 {
		return &s.parts[0]
	}
	return &s.parts[hash>>s.bits]
}

// partitionSet returns the set for partitions of [lo, hi)'s width,
// creating it on first use.
func (tr *trees) partitionSet(lo, hi uint64) (*treeSet, error) {
	width := hi - lo // 0: the whole space
	b := uint(64)
	if width != 0 {
		if width&(width-1) != 0 || lo&(width-1) != 0 {
			return nil, ErrTreeRange
		}
		b = uint(bits.TrailingZeros64(width))
	}
	if s := tr.set.Load(); s != nil {
		if s.bits != b {
			return nil, ErrTreeRange
		}
		return s, nil
	}
	tr.setup.Lock()
	defer tr.setup.Unlock()
	if s := tr.set.Load(); s != nil {
		if s.bits != b {
			return nil, ErrTreeRange
		}
		return s, nil
	}
	n := 1
	if b < 64 {
		n = 1 << (64 - b)
	}
	s := &treeSet{bits: b, parts: make([]partTree, n)}
	tr.set.Store(s)
	return s, nil
}

// stored writes (rec != nil) or deletes (rec == nil) the record under
// dataKey, the key's old record being old (nil: none), and keeps the
// key's partition tree, if one is kept, up to date. The caller holds the
// key's stripe lock.
func (e *Engine) stored(s *scratch, hash uint64, key, dataKey, old, rec []byte, d kv.Durability) error {
	write := func() error { return e.write(s, dataKey, rec, rec == nil, d) }
	if !e.opts.Replicated {
		return write() // a single node compares no trees: PartitionTree keeps none
	}
	pt := e.trees.of(hash)
	if pt == nil {
		e.trees.setup.RLock()
		if pt = e.trees.of(hash); pt == nil {
			defer e.trees.setup.RUnlock()
			return write()
		}
		e.trees.setup.RUnlock()
	}
	pt.mu.RLock()
	defer pt.mu.RUnlock()
	err := write()
	kt := pt.kept.Load()
	if kt == nil || !kt.ready.Load() {
		return err
	}
	if err != nil {
		kt.ready.Store(false) // the store's state is uncertain: scan again
		return err
	}
	kt.fold.Lock()
	if old != nil {
		kt.tree.Add(hash, key, old)
	}
	if rec != nil {
		kt.tree.Add(hash, key, rec)
	}
	kt.fold.Unlock()
	return nil
}

// PartitionTree returns the merkle tree of the records with hashes in
// [lo, hi), a ring partition, and how many records it read to make it: 0
// when the tree was kept from an earlier request, the partition's count
// when it was built by a scan. Every call must use partitions of one
// width (ErrTreeRange otherwise).
func (e *Engine) PartitionTree(lo, hi uint64) (*merkle.Tree, int, error) {
	if e.closed.Load() {
		return nil, 0, kv.ErrClosed
	}
	if _, err := merkle.New(lo, hi); err != nil {
		return nil, 0, err
	}
	if !e.opts.Replicated {
		t, n, err := e.ScanTree(lo, hi)
		if err == nil {
			t.Seal()
		}
		return t, n, err
	}
	s, err := e.trees.partitionSet(lo, hi)
	if err != nil {
		return nil, 0, err
	}
	pt := &s.parts[0]
	if s.bits < 64 {
		pt = &s.parts[lo>>s.bits]
	}
	pt.mu.RLock()
	if kt := pt.kept.Load(); kt != nil && kt.ready.Load() {
		kt.fold.Lock()
		out := kt.tree
		kt.fold.Unlock()
		pt.mu.RUnlock()
		out.Seal()
		return &out, 0, nil
	}
	pt.mu.RUnlock()
	pt.mu.Lock()
	defer pt.mu.Unlock()
	kt := pt.kept.Load()
	if kt == nil {
		kt = &keptTree{}
		pt.kept.Store(kt)
	}
	scanned := 0
	if !kt.ready.Load() {
		t, n, err := e.ScanTree(lo, hi)
		scanned = n
		if err != nil {
			return nil, scanned, err
		}
		kt.tree = *t
		kt.ready.Store(true)
	}
	out := kt.tree
	out.Seal()
	return &out, scanned, nil
}

// ScanSegmentIf calls fn for each record of segment seg of partition
// [lo, hi) if the partition's kept tree has want as that segment's leaf,
// and reports whether it did. It holds the partition's lock exclusively
// from the comparison to the scan's end, so the records fn sees are
// exactly the ones the leaf is the digest of: a caller that knows other
// replicas hold that leaf knows they hold those records, without a
// digest of each (handoff: at 1 KB a record, that digest was 45 % of
// dropping a record every owner held). fn must not write to the
// partition. false: the leaf differs, or no tree of the partition is
// kept (PartitionTree keeps one); nothing was scanned.
func (e *Engine) ScanSegmentIf(lo, hi uint64, seg int, want merkle.Digest, fn func(key, rec []byte) bool) (bool, error) {
	if !e.opts.Replicated || seg < 0 || seg >= merkle.Leaves {
		return false, nil
	}
	pt := e.trees.of(lo)
	if pt == nil {
		return false, nil // no tree kept at all
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	kt := pt.kept.Load()
	if kt == nil || !kt.ready.Load() || kt.tree.Leaf(seg) != want {
		return false, nil
	}
	if first, _ := kt.tree.SegmentRange(0); first != lo {
		return false, ErrTreeRange // lo does not start a partition of the width in use
	}
	if _, end := kt.tree.SegmentRange(merkle.Leaves - 1); end != hi {
		return false, ErrTreeRange
	}
	slo, shi := kt.tree.SegmentRange(seg)
	return true, e.ScanHashRange(slo, shi, fn)
}

// CheckKeptTrees compares every kept partition tree with a scan of its
// partition, each under its partition's lock so that no write falls
// between the two, and returns the low hashes of the partitions whose
// trees differ (a bug: the simulator runs it on every node of every seed).
func (e *Engine) CheckKeptTrees() ([]uint64, error) {
	s := e.trees.set.Load()
	if s == nil {
		return nil, nil
	}
	var wrong []uint64
	for i := range s.parts {
		pt := &s.parts[i]
		lo, hi := uint64(0), uint64(0)
		if s.bits < 64 {
			lo = uint64(i) << s.bits
			hi = lo + 1<<s.bits
		}
		pt.mu.Lock()
		if kt := pt.kept.Load(); kt != nil && kt.ready.Load() {
			t, _, err := e.ScanTree(lo, hi)
			if err != nil {
				pt.mu.Unlock()
				return wrong, err
			}
			kept := kt.tree
			kept.Seal()
			t.Seal()
			if kept.Root() != t.Root() {
				wrong = append(wrong, lo)
			}
		}
		pt.mu.Unlock()
	}
	return wrong, nil
}

// ScanTree builds the merkle tree of the records with hashes in [lo, hi)
// from a scan, keeping nothing, and says how many records it read. The
// tree is not sealed: Add folds more in, Seal finishes it.
func (e *Engine) ScanTree(lo, hi uint64) (*merkle.Tree, int, error) {
	t, err := merkle.New(lo, hi)
	if err != nil {
		return nil, 0, err
	}
	n := 0
	err = e.ScanHashRange(lo, hi, func(key, rec []byte) bool {
		t.Add(hashKey(key), key, rec)
		n++
		return true
	})
	return t, n, err
}

// TreeKept reports whether PartitionTree(lo, hi) would answer without a
// scan: the partition's tree is kept.
func (e *Engine) TreeKept(lo, hi uint64) bool {
	s := e.trees.set.Load()
	if s == nil || !e.opts.Replicated {
		return false
	}
	pt := e.trees.of(lo)
	if s.bits < 64 && hi-lo != 1<<s.bits {
		return false
	}
	kt := pt.kept.Load()
	return kt != nil && kt.ready.Load()
}
