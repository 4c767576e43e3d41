package cluster

import (
	"context"
	"fmt"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// The serving side of the peers protocol: each request is decoded by the
// msg codec, served by a typed method of Node, and its answer encoded by
// the codec.

// ServerTypes is the set of message types Handler serves, for
// wire.ServerOptions.Types.
func ServerTypes() wire.TypeSet { return msg.ServerTypes }

// Handler returns the wire handler that serves this node's peers.
func (n *Node) Handler() wire.Handler { return wire.HandlerFunc(n.handle) }

// Inline is for wire.ServerOptions.Inline: it answers a fetch or digest
// of a key the record cache holds, in a partition this node reads itself
// (no read through to earlier owners), on the connection's reader. That
// is a map lookup and a copy, which cannot block, and costs neither a
// hand-off to a worker goroutine nor a second decode and lookup.
// Anything else goes to a worker (handle), errors included.
func (n *Node) Inline(t wire.MsgType, p, dst []byte) (rt wire.MsgType, out []byte, ok bool) {
	if t != msg.Fetch && t != msg.Digest {
		return 0, nil, false
	}
	defer func() {
		if recover() != nil {
			rt, out, ok = 0, nil, false // handle will fail the same way, and say why
		}
	}()
	key, own, err := msg.DecodeFetch(p)
	if err != nil || !own && !n.readableKey(n.topo.Topology(), key) {
		return 0, nil, false
	}
	var buf [512]byte
	rec, cached := n.eng.CachedRecord(key, buf[:0])
	if !cached {
		return 0, nil, false
	}
	return t, appendFetchAnswer(t, dst, msg.FetchAnswer{Found: true}, rec), true
}

// appendFetchAnswer appends the answer to a fetch (the record) or a
// digest (the record's digest) request.
func appendFetchAnswer(t wire.MsgType, dst []byte, a msg.FetchAnswer, rec []byte) []byte {
	if t == msg.Digest {
		return msg.AppendDigestResp(dst, a, digestIf(a.Found, rec))
	}
	return msg.AppendFetchResp(dst, a, rec)
}

func (n *Node) handle(ctx context.Context, t wire.MsgType, p, dst []byte) (rt wire.MsgType, out []byte, err error) {
	// A bug in serving one peer's request must not take the node down:
	// the peer gets an error, the node keeps serving.
	defer func() {
		if r := recover(); r != nil {
			n.stats.handlerPanics.Add(1)
			rt, out, err = 0, nil, fmt.Errorf("cluster: internal error serving message type %d: %v", t, r)
		}
	}()
	out, err = n.serve(t, p, dst)
	if err != nil {
		return 0, nil, err
	}
	return t, out, nil
}

// serve answers one request into dst. An error from decoding the request
// goes back as is; one from serving it carries its engine code.
func (n *Node) serve(t wire.MsgType, p, dst []byte) ([]byte, error) {
	switch t {
	case msg.Fetch, msg.Digest:
		key, own, err := msg.DecodeFetch(p)
		if err != nil {
			return nil, err
		}
		var rec []byte
		var a msg.FetchAnswer
		if own {
			rec, a.Found, err = n.eng.Record(key, nil)
		} else {
			rec, a, err = n.ownRecord(n.topo.Topology(), key)
		}
		if err != nil {
			return nil, msg.ToRemote(err)
		}
		return appendFetchAnswer(t, dst, a, rec), nil
	case msg.Merge:
		var m msg.MergeRequest
		if err := msg.DecodeMerge(p, &m); err != nil {
			return nil, err
		}
		n.stats.mergesServed.Add(1)
		digest, err := n.applyMerge(&m)
		return msg.AppendMergeResp(dst, digest), msg.ToRemote(err)
	case msg.Put:
		var req kv.PutRequest
		key, deadline, err := msg.DecodePut(p, &req)
		if err != nil {
			return nil, err
		}
		res, err := n.servePut(key, &req, deadline)
		return msg.AppendPutResp(dst, &res), msg.ToRemote(err)
	case msg.Tree:
		part, why, err := msg.DecodeTree(p)
		if err != nil {
			return nil, err
		}
		return n.serveTree(part, why, dst)
	case msg.Segment:
		lo, hi, why, err := msg.DecodeSegmentReq(p)
		if err != nil {
			return nil, err
		}
		return n.serveSegment(lo, hi, why, dst)
	case msg.Holds:
		asker, kds, err := msg.DecodeHolds(p)
		if err != nil {
			return nil, err
		}
		held, err := n.holds(asker, kds)
		if err != nil {
			return nil, msg.ToRemote(err)
		}
		return msg.AppendBoolsResp(dst, held), nil
	case msg.Reapable, msg.Reap:
		kds, err := msg.DecodeKeyDigests(p)
		if err != nil {
			return nil, err
		}
		if t == msg.Reap {
			return msg.AppendReapResp(dst, n.reap(kds)), nil
		}
		return msg.AppendBoolsResp(dst, make([]bool, len(kds))), nil // retired: see msg.ReapCheck
	case msg.ReapCheck:
		asked, kds, err := msg.DecodeReapCheck(p)
		if err != nil {
			return nil, err
		}
		ok, err := n.reapable(asked, kds)
		if err != nil {
			return nil, msg.ToRemote(err)
		}
		return msg.AppendBoolsResp(dst, ok), nil
	case msg.FlushAll:
		delay, err := msg.DecodeFlushAll(p)
		if err != nil {
			return nil, err
		}
		return dst, msg.ToRemote(n.eng.FlushAll(delay))
	}
	return nil, fmt.Errorf("cluster: unexpected message type %d", t)
}
