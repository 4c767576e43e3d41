package memcache

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
)

// fuzzItemSize is small so that fuzzing reaches the size and line limits.
const fuzzItemSize = 4096

// FuzzParser checks that the streaming parser never panics, never claims
// more bytes than it was given, gives the same commands however the input
// is split across reads (the server's situation), and that commands survive
// Rebase onto a copy of the input.
func FuzzParser(f *testing.F) {
	f.Add([]byte("set a 0 0 1\r\nx\r\nget a b\r\n"), uint64(7))
	f.Fuzz(func(t *testing.T, in []byte, splits uint64) {
		whole, wholeRest, wholeErr := parseAll(NewParser(fuzzItemSize), in)
		chunked, chunkedRest, chunkedErr := parseChunked(t, in, splits)
		switch {
		case chunkedErr != nil:
			// A line can look overlong only while its newline has not
			// arrived; what came before must agree.
			if len(chunked) > len(whole) || !slices.Equal(chunked, whole[:len(chunked)]) {
				t.Fatalf("chunked (error %v) is not a prefix of whole:\n%q\n%q", chunkedErr, chunked, whole)
			}
		case wholeErr != nil:
			t.Fatalf("whole input failed (%v) but chunked input did not", wholeErr)
		default:
			if !slices.Equal(whole, chunked) || wholeRest != chunkedRest {
				t.Fatalf("split changed the result:\nwhole   %q (rest %d)\nchunked %q (rest %d)", whole, wholeRest, chunked, chunkedRest)
			}
		}
	})
}

// parseChunked feeds in in pieces whose sizes come from splits, keeping the
// unconsumed bytes as a server does, and checks the per-call invariants.
func parseChunked(t *testing.T, in []byte, splits uint64) ([]string, int, error) {
	p := NewParser(fuzzItemSize)
	var pending []byte
	var out []string
	var cmd Command
	for len(in) > 0 {
		size := 1 + int(splits%7)*int(splits%13+1)
		splits = splits>>3 | splits<<61
		size = min(size, len(in))
		pending = append(pending, in[:size]...)
		in = in[size:]
		for {
			n, err := p.Next(pending, &cmd)
			if err != nil {
				return out, len(pending), err
			}
			if n < 0 || n > len(pending) {
				t.Fatalf("Next consumed %d of %d bytes", n, len(pending))
			}
			if n == 0 {
				break
			}
			if cmd.Op != OpNone {
				before := describe(&cmd)
				copied := bytes.Clone(pending[:n])
				cmd.Rebase(pending, copied)
				if after := describe(&cmd); after != before {
					t.Fatalf("Rebase changed the command: %s -> %s", before, after)
				}
				out = append(out, before)
			}
			pending = pending[n:]
		}
	}
	return out, len(pending), nil
}

// FuzzExecute runs arbitrary input through the parser and the executor over
// the fake engine: no panics, and every reply the executor appends ends
// with CRLF.
func FuzzExecute(f *testing.F) {
	f.Add([]byte("set a 0 0 1\r\n5\r\nincr a 1\r\nmg a v c t k\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		now := time.Unix(1_700_000_000, 0)
		kv := fakekv.New(func() time.Time { return now })
		e := NewExecutor(kv, Options{Now: func() time.Time { return now }, MaxItemSize: fuzzItemSize, Retries: 2})
		var s Session
		p := NewParser(fuzzItemSize)
		var cmd Command
		var out []byte
		for len(in) > 0 {
			n, err := p.Next(in, &cmd)
			if err != nil || n == 0 {
				return
			}
			before := len(out)
			out = e.Execute(&s, &cmd, out)
			if len(out) > before && !bytes.HasSuffix(out, []byte("\r\n")) {
				t.Fatalf("reply to %s does not end with CRLF: %q", describe(&cmd), out[before:])
			}
			in = in[n:]
		}
	})
}

// FuzzDecodeKey checks that the memcached-compatible base64 decoder never
// panics and round-trips standard encodings.
func FuzzDecodeKey(f *testing.F) {
	f.Add([]byte("Zm9v"), []byte("foo"))
	f.Fuzz(func(t *testing.T, enc, raw []byte) {
		_, _ = decodeKey(nil, enc)
		_ = validContext(enc)
		if len(raw) == 0 {
			return
		}
		got, ok := decodeKey(nil, appendBase64(nil, raw))
		if !ok || !bytes.Equal(got, raw) {
			t.Fatalf("round trip of %q gave %q, %v", raw, got, ok)
		}
		if !validContext(appendBase64(nil, raw)) {
			t.Fatalf("valid encoding of %q rejected as a context", raw)
		}
	})
}
