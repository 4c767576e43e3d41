package cluster

import (
	"bytes"
	"context"
	"testing"

	"github.com/dynamo-kv/dynamo/engine"
)

func TestPutRoundTrip(t *testing.T) {
	req := engine.PutRequest{Value: []byte("v"), Flags: 7, Expires: -1, Delete: false, SupersedeAll: true,
		Context: []byte{1, 2}, Cond: engine.CondCAS, CAS: 99, Durability: engine.Sync, W: 2}
	var got engine.PutRequest
	key, err := decodePut(appendPut(nil, []byte("k"), &req), &got)
	if err != nil || string(key) != "k" || string(got.Value) != "v" || got.Flags != 7 || got.Expires != -1 ||
		!got.SupersedeAll || got.Delete || !bytes.Equal(got.Context, req.Context) || got.Cond != engine.CondCAS ||
		got.CAS != 99 || got.Durability != engine.Sync || got.W != 2 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	m := mergeReq{key: []byte("k"), rec: []byte("r"), durability: engine.WAL, hintFor: "n3"}
	var m2 mergeReq
	if err := decodeMerge(appendMerge(nil, &m), &m2); err != nil || string(m2.key) != "k" || m2.hintFor != "n3" || m2.durability != engine.WAL {
		t.Fatalf("merge round trip: %+v %v", m2, err)
	}
}

// FuzzDecodeMessages: no internode payload, however hostile, panics a
// decoder, and what a decoder accepts re-encodes to something it accepts.
func FuzzDecodeMessages(f *testing.F) {
	f.Add(appendPut(nil, []byte("k"), &engine.PutRequest{Value: []byte("v"), SupersedeAll: true}))
	f.Add(appendMerge(nil, &mergeReq{key: []byte("k"), rec: []byte("r"), hintFor: "n"}))
	f.Add(appendFetchResp(nil, true, []byte("rec")))
	f.Add([]byte{0, 1, 'k', 1, 'r'})
	f.Fuzz(func(t *testing.T, p []byte) {
		var req engine.PutRequest
		if key, err := decodePut(p, &req); err == nil {
			var again engine.PutRequest
			if _, err := decodePut(appendPut(nil, key, &req), &again); err != nil {
				t.Fatalf("re-encoded put rejected: %v", err)
			}
		}
		var m mergeReq
		if decodeMerge(p, &m) == nil {
			var again mergeReq
			if err := decodeMerge(appendMerge(nil, &m), &again); err != nil {
				t.Fatalf("re-encoded merge rejected: %v", err)
			}
		}
		decodeFetchResp(p)
		decodeFetch(p)
		decodeSegment(p)
		decodePutResp(p)
	})
}

// A panic while serving a peer becomes an error for that peer.
func TestHandlerRecoversPanics(t *testing.T) {
	n := &Node{topo: panicTopo{}}
	_, _, err := n.handle(context.Background(), msgTree, []byte{0, 0, 0, 0}, nil)
	if err == nil || n.stats.handlerPanics.Load() != 1 {
		t.Fatalf("err = %v, panics = %d", err, n.stats.handlerPanics.Load())
	}
}

type panicTopo struct{}

func (panicTopo) Topology() *Topology { panic("boom") }
