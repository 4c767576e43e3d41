package msg

import (
	"bytes"
	"slices"
	"testing"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

func TestPutRoundTrip(t *testing.T) {
	req := kv.PutRequest{Value: []byte("v"), Flags: 7, Expires: -1, Delete: false, SupersedeAll: true,
		Context: []byte{1, 2}, Cond: kv.CondCAS, CAS: 99, Durability: kv.Sync, W: 2}
	var got kv.PutRequest
	key, deadline, err := DecodePut(AppendPut(nil, []byte("k"), &req, 1<<60), &got)
	if err != nil || string(key) != "k" || string(got.Value) != "v" || got.Flags != 7 || got.Expires != -1 ||
		!got.SupersedeAll || got.Delete || !bytes.Equal(got.Context, req.Context) || got.Cond != kv.CondCAS ||
		got.CAS != 99 || got.Durability != kv.Sync || got.W != 2 || deadline != 1<<60 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	// A put without a deadline (from a node that predates it) has none.
	if _, deadline, err := DecodePut(AppendPut(nil, []byte("k"), &req, 0), &got); err != nil || deadline != 0 || got.W != 2 {
		t.Fatalf("put without a deadline: %+v %d %v", got, deadline, err)
	}
	m := MergeRequest{Key: []byte("k"), Rec: []byte("r"), Durability: kv.WAL, Owed: []string{"n3", "n4"}}
	var m2 MergeRequest
	if err := DecodeMerge(AppendMerge(nil, &m), &m2); err != nil || string(m2.Key) != "k" || !slices.Equal(m2.Owed, m.Owed) || m2.Durability != kv.WAL {
		t.Fatalf("merge round trip: %+v %v", m2, err)
	}
	if m2.Transfer {
		t.Fatal("a plain merge decoded as a transfer")
	}
	m.Transfer = true
	if err := DecodeMerge(AppendMerge(nil, &m), &m2); err != nil || !m2.Transfer || !slices.Equal(m2.Owed, m.Owed) {
		t.Fatalf("transfer round trip: %+v %v", m2, err)
	}
	if err := DecodeMerge(append(AppendMerge(nil, &m), 0), &m2); err == nil {
		t.Fatal("a merge with a byte after its flags decoded")
	}
	m.From = "n7"
	if err := DecodeMerge(AppendMerge(nil, &m), &m2); err != nil || !m2.Transfer || m2.From != "n7" {
		t.Fatalf("transfer with its sender round trip: %+v %v", m2, err)
	}
	m.Transfer = false
	if err := DecodeMerge(AppendMerge(nil, &m), &m2); err != nil || m2.Transfer || m2.From != "n7" || !slices.Equal(m2.Owed, m.Owed) {
		t.Fatalf("merge with its sender round trip: %+v %v", m2, err)
	}
	m.From = ""
	if err := DecodeMerge(AppendMerge(nil, &m), &m2); err != nil || m2.From != "" {
		t.Fatalf("a merge without a sender decoded one: %+v %v", m2, err)
	}
	for _, bad := range [][]byte{{4}, {2}, {2, 0}} { // an unknown flag; a sender missing; an empty sender
		if err := DecodeMerge(append(AppendMerge(nil, &m), bad...), &m2); err == nil {
			t.Fatalf("a merge ending % x decoded", bad)
		}
	}
	arith := kv.PutRequest{Arith: &kv.Arith{Delta: 5, Decr: true, SetExpires: true}, Touch: true, Expires: 9}
	if _, _, err := DecodePut(AppendPut(nil, []byte("k"), &arith, 0), &got); err != nil || got.Arith == nil || *got.Arith != *arith.Arith || !got.Touch {
		t.Fatalf("arith round trip: %+v %v", got, err)
	}
	res := kv.PutResult{CAS: 3, Context: []byte{1}, Live: true, Number: 77, PrevExpires: -5}
	if r2, err := DecodePutResp(AppendPutResp(nil, &res)); err != nil || r2.CAS != 3 || !r2.Live || r2.Number != 77 || r2.PrevExpires != -5 {
		t.Fatalf("put result round trip: %+v %v", r2, err)
	}
	if key, own, err := DecodeFetch(AppendFetch(nil, []byte("k"))); err != nil || own || string(key) != "k" {
		t.Fatalf("fetch round trip: %q %v %v", key, own, err)
	}
	if key, own, err := DecodeFetch(AppendFetchOwn(nil, []byte("k"))); err != nil || !own || string(key) != "k" {
		t.Fatalf("own fetch round trip: %q %v %v", key, own, err)
	}
	if _, _, err := DecodeFetch(append(AppendFetch(nil, []byte("k")), 2)); err == nil {
		t.Fatal("a fetch with an unknown flag decoded")
	}
	for _, a := range []FetchAnswer{{}, {Found: true}, {Behind: true}, {Found: true, Behind: true}} {
		if got, digest, err := DecodeDigestResp(AppendDigestResp(nil, a, 42)); err != nil || got != a || (a.Found && digest != 42) {
			t.Fatalf("digest answer %+v round trip: %+v %d %v", a, got, digest, err)
		}
	}
	if _, _, err := DecodeFetchResp(AppendFetchResp(nil, FetchAnswer{}, nil)[:0]); err == nil {
		t.Fatal("an empty fetch answer decoded")
	}
	if _, _, err := DecodeFetchResp([]byte{4, 0}); err == nil {
		t.Fatal("a fetch answer with an unknown flag decoded")
	}
	kds := []KeyDigest{{[]byte("a"), 1}, {[]byte("bb"), 1 << 63}}
	if asker, got, err := DecodeHolds(AppendHolds(nil, "n7", kds)); err != nil || asker != "n7" || len(got) != 2 || got[1].Digest != 1<<63 {
		t.Fatalf("holds round trip: %q %+v %v", asker, got, err)
	}
	if got, err := DecodeKeyDigests(AppendKeyDigests(nil, kds)); err != nil || len(got) != 2 || string(got[1].Key) != "bb" || got[1].Digest != 1<<63 {
		t.Fatalf("key digests round trip: %+v %v", got, err)
	}
	if p, why, err := DecodeTree(AppendTree(nil, 1023, CatchUp)); err != nil || p != 1023 || why != CatchUp {
		t.Fatalf("tree request round trip: %d %d %v", p, why, err)
	}
	if lo, hi, why, err := DecodeSegmentReq(AppendSegmentReq(nil, 5, 1<<63, AntiEntropy)); err != nil || lo != 5 || hi != 1<<63 || why != AntiEntropy {
		t.Fatalf("segment request round trip: %d %d %d %v", lo, hi, why, err)
	}
	if asked, got, err := DecodeReapCheck(AppendReapCheck(nil, []string{"n1", "n22"}, kds)); err != nil || len(asked) != 2 || asked[1] != "n22" || len(got) != 2 || got[1].Digest != 1<<63 {
		t.Fatalf("reap check round trip: %v %+v %v", asked, got, err)
	}
	if ok, err := DecodeBoolsResp(AppendBoolsResp(nil, []bool{true, false, true}), 3); err != nil || !ok[0] || ok[1] || !ok[2] {
		t.Fatalf("bools round trip: %v %v", ok, err)
	}
	if _, err := DecodeBoolsResp([]byte{1}, 2); err == nil {
		t.Fatal("one answer for two keys accepted")
	}
}

// FuzzDecodeMessages: no internode payload, however hostile, panics a
// decoder, and what a decoder accepts re-encodes to something it accepts.
func FuzzDecodeMessages(f *testing.F) {
	f.Add(AppendPut(nil, []byte("k"), &kv.PutRequest{Value: []byte("v"), SupersedeAll: true}, 0))
	f.Add(AppendPut(nil, []byte("k"), &kv.PutRequest{Value: []byte("v"), SupersedeAll: true}, 1<<50))
	f.Add(AppendMerge(nil, &MergeRequest{Key: []byte("k"), Rec: []byte("r"), Owed: []string{"n"}}))
	f.Add(AppendMerge(nil, &MergeRequest{Key: []byte("k"), Rec: []byte("r"), Transfer: true}))
	f.Add(AppendMerge(nil, &MergeRequest{Key: []byte("k"), Rec: []byte("r"), Transfer: true, From: "n2"}))
	f.Add(AppendKeyDigests(nil, []KeyDigest{{[]byte("k"), 7}}))
	f.Add(AppendFetchOwn(nil, []byte("k")))
	f.Add(AppendFetchResp(nil, FetchAnswer{Found: true, Behind: true}, []byte("rec")))
	f.Add(AppendTree(nil, 7, CatchUp))
	f.Add(AppendReapCheck(nil, []string{"n1"}, []KeyDigest{{[]byte("k"), 7}}))
	f.Add(AppendHolds(nil, "n1", []KeyDigest{{[]byte("k"), 7}}))
	f.Add(AppendSegmentReq(nil, 1, 2, CatchUp))
	f.Add([]byte{0, 1, 'k', 1, 'r'})
	f.Fuzz(func(t *testing.T, p []byte) {
		var req kv.PutRequest
		if key, deadline, err := DecodePut(p, &req); err == nil {
			var again kv.PutRequest
			if _, d2, err := DecodePut(AppendPut(nil, key, &req, deadline), &again); err != nil || d2 != deadline {
				t.Fatalf("re-encoded put rejected: %v", err)
			}
		}
		var m MergeRequest
		if DecodeMerge(p, &m) == nil {
			var again MergeRequest
			if err := DecodeMerge(AppendMerge(nil, &m), &again); err != nil {
				t.Fatalf("re-encoded merge rejected: %v", err)
			}
		}
		if a, rec, err := DecodeFetchResp(p); err == nil {
			if b, rec2, err := DecodeFetchResp(AppendFetchResp(nil, a, rec)); err != nil || b != a || string(rec2) != string(rec) {
				t.Fatalf("re-encoded fetch answer: %+v %q, %v", b, rec2, err)
			}
		}
		DecodeFetch(p)
		DecodeSegment(p)
		DecodePutResp(p)
		DecodeKeyDigests(p)
		DecodeDigestResp(p)
		DecodeTree(p)
		DecodeSegmentReq(p)
		DecodeFlushAll(p)
		DecodeReapResp(p)
		DecodeBoolsResp(p, len(p))
		DecodeReapCheck(p)
		DecodeHolds(p)
	})
}
