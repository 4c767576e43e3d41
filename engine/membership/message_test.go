package membership

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/ring"
)

func TestParseFrame(t *testing.T) {
	r := mustRing(t, ring.Config{Partitions: 16, Replicas: 2}, "a", "b")
	for _, tc := range []struct {
		name string
		in   []byte
		kind byte
		body []byte
		ok   bool
	}{
		{"ring", ringFrame(r), kindRing, r.Encode(), true},
		{"request", appendFrame(nil, kindRingRequest, []byte("node-7")), kindRingRequest, []byte("node-7"), true},
		{"empty", nil, 0, nil, false},
		{"one byte", []byte{msgFormat}, 0, nil, false},
		{"format", []byte{2, kindRing, 1}, 0, nil, false},
		{"kind", []byte{msgFormat, 9, 1}, 0, nil, false},
		{"request without ID", []byte{msgFormat, kindRingRequest}, 0, nil, false},
		{"request ID too long", appendFrame(nil, kindRingRequest, []byte(strings.Repeat("x", ring.MaxNameLen+1))), 0, nil, false},
	} {
		kind, body, err := parseFrame(tc.in)
		if tc.ok != (err == nil) || tc.ok && (kind != tc.kind || !bytes.Equal(body, tc.body)) {
			t.Errorf("%s: parseFrame = %d, %x, %v", tc.name, kind, body, err)
		}
		if err != nil && !errors.Is(err, errMessage) {
			t.Errorf("%s: error %v is not errMessage", tc.name, err)
		}
	}
}

// FuzzMessage feeds arbitrary bytes through what a received message goes
// through before the loop trusts it: framing, then ring decoding.
func FuzzMessage(f *testing.F) {
	r, err := ring.New(ring.Config{Partitions: 16, Replicas: 2}, []ring.Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 2}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ringFrame(r))
	f.Add(appendFrame(nil, kindRingRequest, []byte("a")))
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, body, err := parseFrame(b)
		if err != nil || kind != kindRing {
			return
		}
		got, err := ring.Decode(body)
		if err != nil {
			return
		}
		if !bytes.Equal(ringFrame(got), b) {
			t.Fatalf("ring message does not round-trip")
		}
	})
}
