package compat

import (
	"bytes"
	"strconv"
	"strings"
)

// Normalize rewrites a reply stream so that replies from our server and from
// memcached compare equal where they must legitimately differ, and nowhere
// else. It walks the stream reply by reply, copying data blocks verbatim,
// and replaces only:
//   - the version string of "VERSION <v>";
//   - the CAS unique of "VALUE <key> <flags> <bytes> <cas>" and the c<cas>
//     flag of meta replies (our CAS is a digest of the causal context,
//     memcached's a counter);
//   - a positive remaining TTL t<n> of meta replies (seconds tick during a
//     test; TTL arithmetic has exact tests with a fake clock elsewhere);
//   - the fields of "ME <key> ..." (meta debug prints internal fields that
//     have no counterpart here).
func Normalize(b []byte) string {
	var out strings.Builder
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			out.Write(b)
			break
		}
		line := string(b[:i])
		b = b[i+2:]
		fields := strings.Split(line, " ")
		data := -1
		switch fields[0] {
		case "VERSION":
			fields = []string{"VERSION", "<version>"}
		case "VALUE":
			if len(fields) >= 4 {
				data = atoi(fields[3])
			}
			if len(fields) == 5 {
				fields[4] = "<cas>"
			}
		case "VA":
			if len(fields) >= 2 {
				data = atoi(fields[1])
			}
			normalizeMetaFlags(fields[2:])
		case "HD", "EN", "NF", "NS", "EX":
			normalizeMetaFlags(fields[1:])
		case "ME":
			if len(fields) > 2 {
				fields = append(fields[:2], "<debug>")
			}
		}
		out.WriteString(strings.Join(fields, " "))
		out.WriteString("\r\n")
		if data >= 0 {
			n := min(data+2, len(b))
			out.Write(b[:n])
			b = b[n:]
		}
	}
	return out.String()
}

func normalizeMetaFlags(flags []string) {
	for i, f := range flags {
		if len(f) < 2 {
			continue
		}
		switch {
		case f[0] == 'c' && isDigits(f[1:]):
			flags[i] = "c<cas>"
		case f[0] == 't' && isDigits(f[1:]):
			flags[i] = "t<ttl>"
		}
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// lastCAS finds the CAS of the last gets-style VALUE line or meta c flag
// in a reply stream, so that a later step can send it back.
func lastCAS(b []byte) string {
	cas := ""
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			break
		}
		fields := strings.Split(string(b[:i]), " ")
		b = b[i+2:]
		data := -1
		switch fields[0] {
		case "VALUE":
			if len(fields) >= 4 {
				data = atoi(fields[3])
			}
			if len(fields) == 5 {
				cas = fields[4]
			}
		case "VA", "HD", "EN", "NF", "NS", "EX":
			if fields[0] == "VA" && len(fields) >= 2 {
				data = atoi(fields[1])
			}
			for _, f := range fields[1:] {
				if len(f) > 1 && f[0] == 'c' && isDigits(f[1:]) {
					cas = f[1:]
				}
			}
		}
		if data >= 0 {
			b = b[min(data+2, len(b)):]
		}
	}
	return cas
}
