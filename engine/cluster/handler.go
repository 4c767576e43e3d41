package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// ServerTypes is the set of message types Handler serves, for
// wire.ServerOptions.Types.
func ServerTypes() wire.TypeSet { return serverTypes }

// Handler returns the wire handler that serves this node's peers.
func (n *Node) Handler() wire.Handler { return wire.HandlerFunc(n.handle) }

func (n *Node) handle(ctx context.Context, t wire.MsgType, p, dst []byte) (rt wire.MsgType, out []byte, err error) {
	// A bug in serving one peer's request must not take the node down:
	// the peer gets an error, the node keeps serving.
	defer func() {
		if r := recover(); r != nil {
			n.stats.handlerPanics.Add(1)
			rt, out, err = 0, nil, fmt.Errorf("cluster: internal error serving message type %d: %v", t, r)
		}
	}()
	return n.serve(ctx, t, p, dst)
}

func (n *Node) serve(_ context.Context, t wire.MsgType, p, dst []byte) (wire.MsgType, []byte, error) {
	switch t {
	case msgFetch, msgDigest:
		key, err := decodeFetch(p)
		if err != nil {
			return 0, nil, err
		}
		rec, found, err := n.eng.Record(key, nil)
		if err != nil {
			return 0, nil, toRemote(err)
		}
		if t == msgDigest && found {
			rec = digestOf(rec)
		}
		return t, appendFetchResp(dst, found, rec), nil
	case msgMerge:
		var m mergeReq
		if err := decodeMerge(p, &m); err != nil {
			return 0, nil, err
		}
		n.stats.mergesServed.Add(1)
		digest, err := n.applyMerge(&m)
		if err != nil {
			return 0, nil, toRemote(err)
		}
		return t, wire.AppendUint64(dst, digest), nil
	case msgPut:
		var req kv.PutRequest
		key, deadline, err := decodePut(p, &req)
		if err != nil {
			return 0, nil, err
		}
		if deadline != 0 && n.eng.Now().UnixNano() > deadline {
			n.stats.lateForwards.Add(1)
			return 0, nil, toRemote(errLateForward)
		}
		if req.W > n.opts.N {
			return 0, nil, toRemote(kv.ErrBadQuorum)
		}
		// A forwarded write is coordinated here, never forwarded again.
		topo := n.topo.Topology()
		_, targets, spares, err := n.plan(topo, key)
		if err != nil {
			return 0, nil, toRemote(err)
		}
		var res kv.PutResult
		if conditional(&req) {
			res, err = n.coordinateConditional(topo, key, &req, targets, spares)
		} else {
			res, err = n.coordinate(topo, key, &req, targets, spares)
		}
		if err != nil {
			return 0, nil, toRemote(err)
		}
		return t, appendPutResp(dst, &res), nil
	case msgTree:
		d := wire.NewDecoder(p)
		part := int(d.Uint32())
		if err := d.Finish(); err != nil {
			return 0, nil, err
		}
		tree, err := n.partitionTree(n.topo.Topology(), part)
		if err != nil {
			return 0, nil, toRemote(err)
		}
		return t, tree.AppendLeaves(dst), nil
	case msgSegment:
		d := wire.NewDecoder(p)
		lo, hi := d.Uint64(), d.Uint64()
		if err := d.Finish(); err != nil {
			return 0, nil, err
		}
		return t, n.appendSegment(dst, lo, hi), nil
	case msgReapable:
		out, err := n.reapable(p)
		return t, append(dst, out...), err
	case msgReap:
		out, err := n.reap(p)
		return t, append(dst, out...), err
	case msgFlushAll:
		d := wire.NewDecoder(p)
		ms := d.Uint64()
		if err := d.Finish(); err != nil {
			return 0, nil, err
		}
		return t, dst, toRemote(n.eng.FlushAll(time.Duration(ms) * time.Millisecond))
	}
	return 0, nil, fmt.Errorf("cluster: unexpected message type %d", t)
}

func appendUint64(dst []byte, v uint64) []byte { return wire.AppendUint64(dst, v) }
