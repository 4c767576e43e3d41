package memcache

import "encoding/base64"

// Meta commands carry binary keys base64-encoded (flag b). memcached's
// decoder (base64.c) is lenient: it skips characters outside the alphabet,
// needs a multiple of four alphabet characters ('=' counts), and stops after
// the first padded block. decodeKey reproduces that so that keys which
// memcached accepts decode to the same bytes here.

const badSextet = 0xff

var base64Sextets = func() (t [256]byte) {
	for i := range t {
		t[i] = badSextet
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	t['='] = 0
	return t
}()

// decodeKey appends the decoded form of src to dst. ok is false where
// memcached's decoder returns 0: no alphabet characters, a count that is not
// a multiple of four, or more than two padding characters.
func decodeKey(dst, src []byte) (out []byte, ok bool) {
	count := 0
	for _, c := range src {
		if base64Sextets[c] != badSextet {
			count++
		}
	}
	if count == 0 || count%4 != 0 {
		return dst, false
	}
	start := len(dst)
	var block [4]byte
	n, pad := 0, 0
	for _, c := range src {
		s := base64Sextets[c]
		if s == badSextet {
			continue
		}
		if c == '=' {
			pad++
		}
		block[n] = s
		n++
		if n < 4 {
			continue
		}
		dst = append(dst, block[0]<<2|block[1]>>4, block[1]<<4|block[2]>>2, block[2]<<6|block[3])
		n = 0
		if pad == 0 {
			continue
		}
		if pad > 2 {
			return dst[:start], false
		}
		dst = dst[:len(dst)-pad]
		break
	}
	return dst, len(dst) > start
}

// validKey reports whether decodeKey would accept src, without output.
func validKey(src []byte) bool {
	var scratch [MaxKeyLen]byte
	_, ok := decodeKey(scratch[:0], src)
	return ok
}

// appendBase64 appends the standard, padded encoding of src.
func appendBase64(dst, src []byte) []byte {
	return base64.StdEncoding.AppendEncode(dst, src)
}
