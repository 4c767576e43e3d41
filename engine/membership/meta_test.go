package membership

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/ring"
	"github.com/hashicorp/memberlist"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []nodeMeta{
		{intent: intentJoin, weight: 1},
		{intent: intentLeave, weight: 0.25, ring: stamp{7, 0xdeadbeefcafe}, ringConfig: ring.Config{Partitions: 1024, Replicas: 3}, zone: "eu-1a",
			internodeAddr: "10.0.0.1:7000", clientAddr: "10.0.0.1:11211"},
		{intent: intentJoin, weight: 3, ring: stamp{math.MaxUint64, math.MaxUint64},
			ringConfig: ring.Config{Partitions: ring.MaxPartitions, Replicas: ring.MaxReplicas}, zone: strings.Repeat("z", ring.MaxNameLen)},
		{intent: intentJoin, weight: 1, ringConfig: ring.Config{Partitions: 1, Replicas: 1}},
		{intent: intentJoin, weight: 1, zone: "a", removes: encodeRemovals([]string{"n3"})},
		{intent: intentLeave, weight: 2, removes: encodeRemovals([]string{"n3", "n4", strings.Repeat("x", ring.MaxNameLen)})},
	} {
		b := m.appendTo(nil)
		got, err := decodeMeta(b)
		if err != nil || got != m {
			t.Errorf("decode(encode(%+v)) = %+v, %v", m, got, err)
		}
	}
}

func TestDecodeMetaRejects(t *testing.T) {
	good := nodeMeta{intent: intentJoin, weight: 1, zone: "a", internodeAddr: "h:1", clientAddr: "h:2"}.appendTo(nil)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"empty":                     nil,
		"format":                    mutate(func(b []byte) []byte { b[0] = 3; return b }),
		"format 2 without removals": mutate(func(b []byte) []byte { b[0] = 2; return b }),
		"zero removals":             mutate(func(b []byte) []byte { b[0] = 2; return append(b, 0) }),
		"removals unsorted":         mutate(func(b []byte) []byte { b[0] = 2; return append(b, 2, 1, 'b', 1, 'a') }),
		"removal repeated":          mutate(func(b []byte) []byte { b[0] = 2; return append(b, 2, 1, 'a', 1, 'a') }),
		"empty removal":             mutate(func(b []byte) []byte { b[0] = 2; return append(b, 1, 0) }),
		"removal cut":               mutate(func(b []byte) []byte { b[0] = 2; return append(b, 1, 3, 'a') }),
		"removal count over":        mutate(func(b []byte) []byte { b[0] = 2; return append(b, 2, 1, 'a') }),
		"intent 0":                  mutate(func(b []byte) []byte { b[1] = 0; return b }),
		"intent 4":                  mutate(func(b []byte) []byte { b[1] = 4; return b }),
		"zero weight":               nodeMeta{intent: intentJoin}.appendTo(nil),
		"nan weight":                nodeMeta{intent: intentJoin, weight: math.NaN()}.appendTo(nil),
		"inf weight":                nodeMeta{intent: intentJoin, weight: math.Inf(1)}.appendTo(nil),
		"truncated":                 good[:len(good)-1],
		"trailing":                  append(append([]byte(nil), good...), 0),
		"long zone":                 nodeMeta{intent: intentJoin, weight: 1, zone: strings.Repeat("z", 256)}.appendTo(nil),
		"stamp cut":                 good[:12],
		"ring config":               mutate(func(b []byte) []byte { b[19], b[20] = 17, 3; return b }),
		"no replicas":               mutate(func(b []byte) []byte { b[19], b[20] = 4, 0; return b }),
		"replicas":                  mutate(func(b []byte) []byte { b[19], b[20] = 4, 17; return b }),
		"string count":              mutate(func(b []byte) []byte { return b[:len(b)-4] }),
	} {
		if _, err := decodeMeta(b); !errors.Is(err, errMeta) {
			t.Errorf("%s: decodeMeta = %v, want errMeta", name, err)
		}
	}
}

// TestMetaSizeBound checks that whatever Config accepts encodes within
// memberlist's limit even with the largest ring stamp, that the check is
// tight (the largest accepted metadata is exactly the limit), and that
// one byte more is refused rather than left to panic inside memberlist.
func TestMetaSizeBound(t *testing.T) {
	zone := strings.Repeat("z", ring.MaxNameLen)
	internode := strings.Repeat("i", 100)
	client := ""
	for checkMetaSize(zone, internode, client+"c") == nil {
		client += "c"
	}
	worst := nodeMeta{intent: intentLeave, weight: math.MaxFloat64, ring: stamp{math.MaxUint64, math.MaxUint64},
		zone: zone, internodeAddr: internode, clientAddr: client}.appendTo(nil)
	if len(worst) != memberlist.MetaMaxSize {
		t.Fatalf("largest accepted metadata encodes to %d bytes, want exactly %d", len(worst), memberlist.MetaMaxSize)
	}
	if err := checkMetaSize(zone, internode, client+"c"); !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("one byte over: %v, want ErrMetaTooLarge", err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(nodeMeta{intent: intentJoin, weight: 1, ring: stamp{3, 9}, zone: "a", internodeAddr: "h:1"}.appendTo(nil))
	f.Add(nodeMeta{intent: intentJoin, weight: 1, zone: "a", removes: encodeRemovals([]string{"n2", "n3"})}.appendTo(nil))
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		// Decode accepts only the canonical form.
		if again := m.appendTo(nil); string(again) != string(b) {
			t.Fatalf("decode accepted a non-canonical form: %x re-encodes as %x", b, again)
		}
	})
}
