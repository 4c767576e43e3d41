package cluster

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// Transport carries internode frames to a peer and reports the peer's
// health as the transport sees it (a peer that just timed out or refused
// a connection is unhealthy at once, before gossip agrees). *wire.Pool
// implements it; tests wrap one in fault injection.
type Transport interface {
	Call(ctx context.Context, addr string, t wire.MsgType, req, dst []byte) (wire.MsgType, []byte, error)
	Healthy(addr string) bool
}

var _ Transport = (*wire.Pool)(nil)

// wirePeers implements peers over a Transport, encoding and decoding
// through the msg codec.
type wirePeers struct{ tr Transport }

var _ peers = wirePeers{}

// call makes one round trip, its error classified.
func (w wirePeers) call(ctx context.Context, addr string, t wire.MsgType, req, dst []byte) ([]byte, error) {
	_, resp, err := w.tr.Call(ctx, addr, t, req, dst)
	if err != nil {
		return nil, classify(err)
	}
	return resp, nil
}

// classify is the one place that tells what a transport error means for
// its request (see delivery).
func classify(err error) error {
	var re *wire.RemoteError
	switch {
	case errors.As(err, &re):
		return &callError{cause: err, why: answered}
	case errors.Is(err, wire.ErrPeerSuspect), errors.Is(err, syscall.ECONNREFUSED):
		return &callError{cause: err, why: undelivered}
	}
	return err
}

// badAnswer marks an answer that does not decode.
func badAnswer(err error) error {
	if err == nil {
		return nil
	}
	return &callError{cause: err, why: answered}
}

func (w wirePeers) Fetch(ctx context.Context, addr string, key, dst []byte) ([]byte, msg.FetchAnswer, error) {
	return w.fetch(ctx, addr, msg.AppendFetch(nil, key), dst)
}

func (w wirePeers) FetchOwn(ctx context.Context, addr string, key, dst []byte) ([]byte, bool, error) {
	rec, a, err := w.fetch(ctx, addr, msg.AppendFetchOwn(nil, key), dst)
	return rec, a.Found, err
}

func (w wirePeers) fetch(ctx context.Context, addr string, req, dst []byte) ([]byte, msg.FetchAnswer, error) {
	resp, err := w.call(ctx, addr, msg.Fetch, req, dst)
	if err != nil {
		return nil, msg.FetchAnswer{}, err
	}
	a, rec, err := msg.DecodeFetchResp(resp)
	return rec, a, badAnswer(err)
}

func (w wirePeers) Digest(ctx context.Context, addr string, key []byte) (uint64, msg.FetchAnswer, error) {
	resp, err := w.call(ctx, addr, msg.Digest, msg.AppendFetch(nil, key), nil)
	if err != nil {
		return 0, msg.FetchAnswer{}, err
	}
	a, digest, err := msg.DecodeDigestResp(resp)
	return digest, a, badAnswer(err)
}

func (w wirePeers) Merge(ctx context.Context, addr string, m *msg.MergeRequest) (uint64, error) {
	resp, err := w.call(ctx, addr, msg.Merge, msg.AppendMerge(nil, m), nil)
	if err != nil {
		return 0, err
	}
	return msg.DecodeMergeResp(resp), nil
}

func (w wirePeers) Put(ctx context.Context, addr string, key []byte, req *kv.PutRequest, deadline int64) (kv.PutResult, error) {
	resp, err := w.call(ctx, addr, msg.Put, msg.AppendPut(nil, key, req, deadline), nil)
	if deliveryOf(err) == answered {
		// The coordinator's error, as the engine's sentinel.
		return kv.PutResult{}, &callError{cause: msg.FromRemote(err), why: answered}
	}
	if err != nil {
		return kv.PutResult{}, err
	}
	res, err := msg.DecodePutResp(resp)
	return res, badAnswer(err)
}

func (w wirePeers) Tree(ctx context.Context, addr string, partition int, why msg.Purpose, dst []byte) ([]byte, error) {
	return w.call(ctx, addr, msg.Tree, msg.AppendTree(nil, partition, why), dst)
}

func (w wirePeers) Segment(ctx context.Context, addr string, lo, hi uint64, why msg.Purpose) (map[string][]byte, bool, error) {
	resp, err := w.call(ctx, addr, msg.Segment, msg.AppendSegmentReq(nil, lo, hi, why), nil)
	if err != nil {
		return nil, false, err
	}
	records, truncated, err := msg.DecodeSegment(resp)
	return records, truncated, badAnswer(err)
}

func (w wirePeers) FlushAll(ctx context.Context, addr string, delay time.Duration) error {
	_, err := w.call(ctx, addr, msg.FlushAll, msg.AppendFlushAll(nil, delay), nil)
	return err
}

func (w wirePeers) Reapable(ctx context.Context, addr string, asked []string, kds []msg.KeyDigest) ([]bool, error) {
	return w.bools(ctx, addr, msg.ReapCheck, msg.AppendReapCheck(nil, asked, kds), len(kds))
}

func (w wirePeers) Holds(ctx context.Context, addr, asker string, kds []msg.KeyDigest) ([]bool, error) {
	return w.bools(ctx, addr, msg.Holds, msg.AppendHolds(nil, asker, kds), len(kds))
}

// bools asks one question per (key, digest) pair.
func (w wirePeers) bools(ctx context.Context, addr string, t wire.MsgType, req []byte, pairs int) ([]bool, error) {
	resp, err := w.call(ctx, addr, t, req, nil)
	if err != nil {
		return nil, err
	}
	ok, err := msg.DecodeBoolsResp(resp, pairs)
	return ok, badAnswer(err)
}

func (w wirePeers) Reap(ctx context.Context, addr string, kds []msg.KeyDigest) (int, error) {
	resp, err := w.call(ctx, addr, msg.Reap, msg.AppendKeyDigests(nil, kds), nil)
	if err != nil {
		return 0, err
	}
	count, err := msg.DecodeReapResp(resp)
	return count, badAnswer(err)
}

func (w wirePeers) Healthy(addr string) bool { return w.tr.Healthy(addr) }

// Verify pings the peer when the transport can (*wire.Pool); otherwise
// it is Healthy.
func (w wirePeers) Verify(ctx context.Context, addr string) bool {
	if v, ok := w.tr.(interface {
		Verify(ctx context.Context, addr string) bool
	}); ok {
		return v.Verify(ctx, addr)
	}
	return w.tr.Healthy(addr)
}

// Recover tells the transport that gossip saw addr come back, when it can
// use that (*wire.Pool.Recover probes it at once).
func (w wirePeers) Recover(addr string) {
	if r, ok := w.tr.(interface{ Recover(addr string) }); ok {
		r.Recover(addr)
	}
}
