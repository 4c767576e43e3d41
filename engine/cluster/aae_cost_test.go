package cluster

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

var (
	aaeKeys  = flag.Int("aae.keys", 0, "TestAntiEntropyCost: keys per replica (0: skip the test)")
	aaeValue = flag.Int("aae.value", 1024, "TestAntiEntropyCost: value bytes")
)

// TestAntiEntropyCost measures what anti-entropy costs between two
// replicas of -aae.keys keys (Q=1024, as dynamod's default ring): the
// first pass over every partition, which builds every tree from a scan
// (what every pass cost before trees were kept), then a pass after one
// replica lost 1, 100 and 10,000 keys. It reports time, bytes on the wire
// and the records the replica running the pass read (its trees and the
// segments it took; the peer's tree scans are not counted), against the
// bytes of a full comparison (every key and record sent), and checks the
// lost keys came back. Run by
// `make bench-aae`; skipped without -aae.keys.
func TestAntiEntropyCost(t *testing.T) {
	if *aaeKeys == 0 {
		t.Skip("set -aae.keys (make bench-aae)")
	}
	const q = 1024
	c := newTestClusterQ(t, 2, q, Options{N: 2, R: 1, W: 2, Timeout: 10 * time.Second})
	a, b := c.nodes[0], c.nodes[1]
	value := bytes.Repeat([]byte("x"), *aaeValue)
	keys := make([][]byte, *aaeKeys)
	var full uint64
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%09d", i)
		if _, err := a.eng.Put(keys[i], &kv.PutRequest{Value: value, SupersedeAll: true}); err != nil {
			t.Fatal(err)
		}
		rec, _, err := a.eng.Record(keys[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.eng.MergeRecord(keys[i], rec, kv.Buffered); err != nil {
			t.Fatal(err)
		}
		full += uint64(len(keys[i]) + len(rec))
	}
	type row struct {
		what          string
		took          time.Duration
		bytes, read   uint64
		repaired, all int
	}
	pass := func(what string) row {
		sent0, recv0 := a.net.Traffic()
		read0 := a.node.bgw.aaeScan.Worked() + b.node.bgw.aaeScan.Worked()
		start := time.Now()
		repaired := 0
		for range q {
			repaired += a.node.AntiEntropy()
		}
		sent, recv := a.net.Traffic()
		return row{what: what, took: time.Since(start), bytes: sent - sent0 + recv - recv0,
			read: a.node.bgw.aaeScan.Worked() + b.node.bgw.aaeScan.Worked() - read0, repaired: repaired}
	}
	rows := []row{pass("first pass: every tree built by a scan")}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lost := range []int{1, 100, 10_000} {
		gone := map[int]bool{}
		for len(gone) < lost {
			i := rng.IntN(len(keys))
			if gone[i] {
				continue
			}
			gone[i] = true
			rec, _, err := b.eng.Record(keys[i], nil)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := b.eng.DropRecordIf(keys[i], rec); !ok || err != nil {
				t.Fatalf("dropping %s: %v %v", keys[i], ok, err)
			}
		}
		r := pass(fmt.Sprintf("%d keys lost on one replica", lost))
		for i := range gone {
			if _, found, _ := b.eng.Record(keys[i], nil); !found {
				t.Fatalf("%s still lost after a pass", keys[i])
			}
		}
		rows = append(rows, r)
	}
	t.Logf("anti-entropy between two replicas of %d keys of %d B, Q=%d; a full comparison sends %.1f MB", len(keys), *aaeValue, q, float64(full)/1e6)
	t.Logf("%-42s %10s %12s %12s %9s", "pass", "time", "wire bytes", "read here", "repaired")
	for _, r := range rows {
		t.Logf("%-42s %10v %12d %12d %9d", r.what, r.took.Round(time.Millisecond), r.bytes, r.read, r.repaired)
	}
}
