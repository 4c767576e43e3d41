package memcache

import "github.com/dynamo-kv/dynamo/engine/counter"

// memcached parses every numeric argument with strtol/strtoul/strtoull and
// then its own safe_* checks (util.c). Clients depend on the quirks that
// follow (leading whitespace and a '+' are accepted, a 64-bit long is
// truncated to 32 bits, "-1" is rejected as unsigned), so the functions here
// reproduce them on byte slices instead of using strconv.

// The scan itself is memcached's strtoull rule, shared with the engine's
// counters (engine/counter), which read stored values as numbers.
var (
	cString     = counter.CString
	scanDecimal = counter.ScanDecimal
	parseUint64 = counter.ParseUint64
)

// parseUint32 is safe_strtoul on a 64-bit host: the unsigned long result is
// truncated to 32 bits, so 4294967296 reads as 0.
func parseUint32(s []byte) (uint32, bool) {
	v, ok := parseUint64(s)
	return uint32(v), ok
}

// parseInt32 is safe_strtol on a 64-bit host: strtol range-checks against
// 64 bits and the result is then truncated to 32 bits.
func parseInt32(s []byte) (int32, bool) {
	mag, neg, overflow, ok := scanDecimal(s)
	if !ok || overflow {
		return 0, false
	}
	if !neg && mag > 1<<63-1 || neg && mag > 1<<63 {
		return 0, false
	}
	v := int64(mag)
	if neg {
		v = -v
	}
	return int32(v), true
}

// appendUint appends v in decimal.
func appendUint(b []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// appendInt appends v in decimal.
func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		return appendUint(b, uint64(-v))
	}
	return appendUint(b, uint64(v))
}
