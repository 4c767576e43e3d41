package ring

import (
	"encoding/binary"

	"github.com/zeebo/blake3"
)

// HashKey is the one hash of a key that everything agrees on: the ring
// places the key by it, and the engine stores the key under it so that a
// partition (a range of hashes) is a contiguous range on disk.
//
// It is the first 8 bytes of BLAKE3-256 of the key, read little endian.
// BLAKE3 is well distributed for any key shape (unlike crc32 or fnv on
// similar keys), allocation-free, and costs ~100 ns on a short key, small
// next to a network round trip. Compute it once per request and carry it.
func HashKey(key []byte) uint64 {
	sum := blake3.Sum256(key)
	return binary.LittleEndian.Uint64(sum[:8])
}
