package engine

import (
	"encoding/binary"

	"github.com/dynamo-kv/dynamo/ring"
)

// On-disk key layout. Data keys carry the key's ring hash before the key
// itself, so every ring partition (a range of hashes) is one contiguous
// range of the store: anti-entropy and partition transfer scan it directly.
//
//	'd' | hash (8 bytes, big endian) | key     one record per key
//	'm' | name                               node metadata
const (
	prefixData = 'd'
	prefixMeta = 'm'
)

var (
	dataLo = []byte{prefixData}
	dataHi = []byte{prefixData + 1}

	metaActor = []byte{prefixMeta, 'a', 'c', 't', 'o', 'r'}
	metaClean = []byte{prefixMeta, 'c', 'l', 'e', 'a', 'n'}
	metaFlush = []byte{prefixMeta, 'f', 'l', 'u', 's', 'h'}
	metaEpoch = []byte{prefixMeta, 'e', 'p', 'o', 'c', 'h'}
	// metaSuspects: the keys whose next write needs a fresh epoch (see
	// actors), saved by a clean shutdown.
	metaSuspects = []byte{prefixMeta, 's', 'u', 's', 'p', 'e', 'c', 't', 's'}
)

const dataHeader = 1 + 8

func appendDataKey(dst []byte, hash uint64, key []byte) []byte {
	dst = append(dst, prefixData)
	dst = binary.BigEndian.AppendUint64(dst, hash)
	return append(dst, key...)
}

// dataHash returns the ring hash inside a data key.
func dataHash(dataKey []byte) uint64 { return binary.BigEndian.Uint64(dataKey[1:dataHeader]) }

// oldRecord is the stored record a write replaces: nil when none was.
func oldRecord(found bool, raw []byte) []byte {
	if !found {
		return nil
	}
	return raw
}

// userKey returns the client's key inside a data key.
func userKey(dataKey []byte) []byte { return dataKey[dataHeader:] }

// hashKey is the ring's key hash (see ring.HashKey).
var hashKey = ring.HashKey
