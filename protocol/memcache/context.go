package memcache

import "encoding/base64"

// Contexts travel on the wire as standard, padded base64 of the engine's
// opaque context bytes; "-" stands for the empty context.

// validContext reports whether tok is "-", empty, or well-formed padded
// base64.
func validContext(tok []byte) bool {
	if len(tok) == 0 || string(tok) == "-" {
		return true
	}
	if len(tok)%4 != 0 {
		return false
	}
	for i, c := range tok {
		if c == '=' {
			// Padding only in the last two positions, and only at the end.
			if i < len(tok)-2 || (i == len(tok)-2 && tok[len(tok)-1] != '=') {
				return false
			}
			continue
		}
		if base64Sextets[c] == badSextet {
			return false
		}
	}
	return true
}

// decodeContext appends the bytes tok names to dst; "-" and "" are empty.
func decodeContext(dst, tok []byte) ([]byte, error) {
	if len(tok) == 0 || string(tok) == "-" {
		return dst[:0], nil
	}
	return base64.StdEncoding.AppendDecode(dst[:0], tok)
}

// appendContext appends the wire form of ctx.
func appendContext(dst, ctx []byte) []byte {
	if len(ctx) == 0 {
		return append(dst, '-')
	}
	return appendBase64(dst, ctx)
}
