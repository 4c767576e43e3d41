package memcache

import "bytes"

// memcached parses every numeric argument with strtol/strtoul/strtoull and
// then its own safe_* checks (util.c). Clients depend on the quirks that
// follow (leading whitespace and a '+' are accepted, a 64-bit long is
// truncated to 32 bits, "-1" is rejected as unsigned), so the functions here
// reproduce them on byte slices instead of using strconv.

// cSpace reports whether b is isspace in the C locale.
func cSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }

// cString cuts s at its first NUL, as C string functions see it.
func cString(s []byte) []byte {
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// scanDecimal is strtoull's scan: optional whitespace and sign, then base-10
// digits. ok is false when there are no digits or the character after them
// is neither whitespace nor the end of s. overflow is set when the magnitude
// does not fit 64 bits (strtoull's ERANGE).
func scanDecimal(s []byte) (mag uint64, neg, overflow, ok bool) {
	s = cString(s)
	i := 0
	for i < len(s) && cSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if mag > (^uint64(0)-d)/10 {
			overflow = true
		}
		mag = mag*10 + d
	}
	if i == start {
		return 0, false, false, false
	}
	if i < len(s) && !cSpace(s[i]) {
		return 0, false, false, false
	}
	return mag, neg, overflow, true
}

// parseUint64 is safe_strtoull: negative numbers are rejected only when the
// wrapped result looks negative as a signed value, as in memcached.
func parseUint64(s []byte) (uint64, bool) {
	mag, neg, overflow, ok := scanDecimal(s)
	if !ok || overflow {
		return 0, false
	}
	v := mag
	if neg {
		v = -mag
	}
	if int64(v) < 0 && bytes.IndexByte(cString(s), '-') >= 0 {
		return 0, false
	}
	return v, true
}

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
