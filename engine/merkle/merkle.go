// Package merkle summarises the records of one ring partition in a small
// hash tree, so two replicas can find where they differ by exchanging a
// few kilobytes instead of their data (Dynamo §4.7, anti-entropy).
//
// The partition's hash range is cut into Leaves equal segments by key
// hash. A leaf is the XOR of a 128-bit digest (BLAKE3) of each (key,
// record) pair in its segment, so it does not depend on the order records
// are visited and can be built in one pass of a store scan. Inner nodes
// hash their two children; equal roots mean equal partitions (up to the
// digest's collision odds). A tree is built from a scan, at the cost of
// reading the partition; since a leaf is an XOR, adding an item again
// takes it out, so a tree's leaves can also be kept up to date record by
// record (the engine does: engine/trees.go).
//
// The package is pure: no I/O, no clocks.
package merkle

import (
	"encoding/binary"
	"errors"

	"github.com/zeebo/blake3"
)

// Leaves is the number of segments per partition tree.
const Leaves = 64

// DigestSize is the size of a leaf or node hash.
const DigestSize = 16

// Digest is one hash in the tree.
type Digest [DigestSize]byte

// Tree is a complete binary tree over Leaves segments: nodes[1] is the
// root, nodes[i]'s children are 2i and 2i+1, leaves are nodes[Leaves:].
type Tree struct {
	lo    uint64
	shift uint // a segment covers 1<<shift hashes
	nodes [2 * Leaves]Digest
}

// ErrRange marks a hash range that is not an aligned power of two of at
// least Leaves hashes (a ring partition always is).
var ErrRange = errors.New("merkle: range is not a partition")

// New starts a tree for the partition covering hashes [lo, hi); hi == 0
// means the end of the hash space.
func New(lo, hi uint64) (*Tree, error) {
	width := hi - lo // 0 for the whole space
	bits := uint(64)
	if width != 0 {
		if width&(width-1) != 0 || width < Leaves || lo&(width-1) != 0 {
			return nil, ErrRange
		}
		bits = uint(bitsLen(width) - 1)
	}
	return &Tree{lo: lo, shift: bits - 6}, nil
}

func bitsLen(x uint64) int {
	n := 0
	for ; x != 0; x >>= 1 {
		n++
	}
	return n
}

// Segment returns the leaf a key hash (inside the range) falls in.
func (t *Tree) Segment(hash uint64) int { return int((hash - t.lo) >> t.shift) }

// SegmentRange returns the hash range [lo, hi) of leaf i (hi == 0: the end).
func (t *Tree) SegmentRange(i int) (lo, hi uint64) {
	return t.lo + uint64(i)<<t.shift, t.lo + uint64(i+1)<<t.shift
}

// Add folds one record into its leaf; call Seal after the last one.
func (t *Tree) Add(hash uint64, key, record []byte) {
	d := ItemDigest(key, record)
	leaf := &t.nodes[Leaves+t.Segment(hash)]
	for i := range leaf {
		leaf[i] ^= d[i]
	}
}

// ItemDigest is the digest of one (key, record) pair.
func ItemDigest(key, record []byte) Digest {
	h := blake3.New()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(key)))
	h.Write(n[:])
	h.Write(key)
	h.Write(record)
	var sum [32]byte
	var d Digest
	copy(d[:], h.Sum(sum[:0]))
	return d
}

// Seal computes the inner nodes; the tree is then read-only.
func (t *Tree) Seal() {
	var buf [2 * DigestSize]byte
	for i := Leaves - 1; i >= 1; i-- {
		copy(buf[:DigestSize], t.nodes[2*i][:])
		copy(buf[DigestSize:], t.nodes[2*i+1][:])
		sum := blake3.Sum256(buf[:])
		copy(t.nodes[i][:], sum[:DigestSize])
	}
}

// Root is the tree's root hash.
func (t *Tree) Root() Digest { return t.nodes[1] }

// Leaf is segment i's digest: the XOR of its items' digests, zero for an
// empty segment.
func (t *Tree) Leaf(i int) Digest { return t.nodes[Leaves+i] }

// AppendLeaves appends the leaf digests, the form a replica sends.
func (t *Tree) AppendLeaves(dst []byte) []byte {
	for _, d := range t.nodes[Leaves:] {
		dst = append(dst, d[:]...)
	}
	return dst
}

// ErrLeaves marks a leaf list of the wrong size.
var ErrLeaves = errors.New("merkle: malformed leaves")

// DiffLeaves returns the segments where t's leaves differ from a peer's
// (as AppendLeaves encodes them).
func (t *Tree) DiffLeaves(peer []byte) ([]int, error) {
	if len(peer) != Leaves*DigestSize {
		return nil, ErrLeaves
	}
	var out []int
	for i := range Leaves {
		if string(t.nodes[Leaves+i][:]) != string(peer[i*DigestSize:(i+1)*DigestSize]) {
			out = append(out, i)
		}
	}
	return out, nil
}
