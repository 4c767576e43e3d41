package workload

import (
	"slices"
	"strconv"
)

// A shopping cart value is its item ids in decimal, comma-separated and
// ascending: "3,17,42". Merging siblings is the union of their items, which is
// the reconciliation Dynamo's shopping cart performs.

// AppendItems parses the item ids in value and appends them to dst. Bytes that
// are not part of a decimal id (a value written by a plain set, for example)
// are skipped, so any value reads as a possibly empty cart.
func AppendItems(dst []uint32, value []byte) []uint32 {
	var id uint64
	digits, clean := 0, true // clean: the token so far is all digits after a comma or the start
	for _, c := range value {
		switch {
		case c >= '0' && c <= '9':
			if digits < 11 {
				id = id*10 + uint64(c-'0')
			}
			digits++
		case c == ',':
			dst = appendID(dst, id, digits, clean)
			id, digits, clean = 0, 0, true
		default:
			clean = false
		}
	}
	return appendID(dst, id, digits, clean)
}

// appendID keeps a whole decimal token that fits in 32 bits.
func appendID(dst []uint32, id uint64, digits int, clean bool) []uint32 {
	if clean && digits > 0 && digits <= 10 && id <= 0xffffffff {
		dst = append(dst, uint32(id))
	}
	return dst
}

// MergeItems sorts items and removes duplicates in place: the union of the
// carts appended into it.
func MergeItems(items []uint32) []uint32 {
	slices.Sort(items)
	return slices.Compact(items)
}

// EncodeItems appends the cart encoding of items (sorted, deduplicated) to dst.
func EncodeItems(dst []byte, items []uint32) []byte {
	for i, id := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(id), 10)
	}
	return dst
}

// AddItem adds id to the merged cart items. A cart already holding maxItems
// is checked out: the new cart holds id alone. That bounds value growth
// while every write still depends on what was read.
func AddItem(items []uint32, id uint32, maxItems int) []uint32 {
	if len(items) >= maxItems {
		return append(items[:0], id)
	}
	i, found := slices.BinarySearch(items, id)
	if found {
		return items
	}
	return slices.Insert(items, i, id)
}

// AppendKey appends the key name for index idx: prefix then decimal idx.
func AppendKey(dst []byte, prefix string, idx uint64) []byte {
	dst = append(dst, prefix...)
	return strconv.AppendUint(dst, idx, 10)
}
