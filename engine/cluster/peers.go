package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
)

// peers is how a node reaches the others: one typed call per internode
// message, to a peer's internode address, and the transport's view of a
// peer's health. wirePeers, over a Transport (*wire.Pool in production),
// is the implementation; tests inject faults beneath it.
//
// A failed call's error keeps its cause's message and errors.Is chain;
// deliveryOf says whether its request reached the peer. A peer's error
// answer to a forwarded write carries the engine's sentinel
// (kv.ErrNotStored …, or msg.ErrLateForward).
type peers interface {
	// Fetch returns key's record as the peer holds it, appended to dst;
	// a.Behind says the peer is catching up the key's partition and read
	// its answer through (ready.go).
	Fetch(ctx context.Context, addr string, key, dst []byte) (rec []byte, a msg.FetchAnswer, err error)
	// FetchOwn is Fetch of the peer's own copy, as it is even while the
	// peer catches up the key's partition (see ready.go).
	FetchOwn(ctx context.Context, addr string, key, dst []byte) (rec []byte, found bool, err error)
	// Digest returns the digest (engine.Digest) of the peer's record of
	// key, with Fetch's answer flags.
	Digest(ctx context.Context, addr string, key []byte) (digest uint64, a msg.FetchAnswer, err error)
	// Merge has the peer merge a record, and returns the digest of the
	// record it holds afterwards (0: the peer did not say).
	Merge(ctx context.Context, addr string, m *msg.MergeRequest) (digest uint64, err error)
	// Put forwards a write for the peer to coordinate. deadline (unix
	// nanoseconds of this node's clock, 0 for none) is when the peer must
	// no longer apply it.
	Put(ctx context.Context, addr string, key []byte, req *kv.PutRequest, deadline int64) (kv.PutResult, error)
	// Tree returns the merkle leaves (merkle.Tree.AppendLeaves) of the
	// peer's records in a partition, appended to dst; why says how the
	// peer serves it (msg.Purpose).
	Tree(ctx context.Context, addr string, partition int, why msg.Purpose, dst []byte) (leaves []byte, err error)
	// Segment returns the peer's records with hashes in [lo, hi), by key;
	// a large segment comes in part (truncated).
	Segment(ctx context.Context, addr string, lo, hi uint64, why msg.Purpose) (records map[string][]byte, truncated bool, err error)
	// Holds reports, per pair, whether the peer owns the key by its own
	// ring and holds exactly the record with that digest: a node handing
	// off need not send it again.
	// asker is this node's id: a peer still pulling the partition from it
	// refuses (msg.ErrNotReady).
	Holds(ctx context.Context, addr, asker string, kds []msg.KeyDigest) ([]bool, error)
	// FlushAll has the peer flush its data after delay.
	FlushAll(ctx context.Context, addr string, delay time.Duration) error
	// Reapable reports, per pair, whether the peer lets the key be reaped;
	// asked is every node the asker asks, itself included.
	Reapable(ctx context.Context, addr string, asked []string, kds []msg.KeyDigest) ([]bool, error)
	// Reap has the peer reap the keys whose records are still the ones
	// named, and returns how many it reaped.
	Reap(ctx context.Context, addr string, kds []msg.KeyDigest) (int, error)
	// Healthy reports whether the transport has no fresh failure for the
	// peer (a timeout, a refused connection): it is unhealthy at once,
	// before gossip agrees.
	Healthy(addr string) bool
	// Verify reports whether the peer answers now: it pings it, and
	// clears the transport's suspicion when it answers.
	Verify(ctx context.Context, addr string) bool
}

// delivery is what a failed call tells about its request.
type delivery uint8

const (
	// maybeDelivered: the call failed in flight (a timeout, a broken
	// connection); the peer may have acted on the request.
	maybeDelivered delivery = iota
	// undelivered: the request never reached the peer (suspected down,
	// connection refused), so sending it elsewhere cannot apply it twice.
	undelivered
	// answered: the peer answered, with an error (it is up and said no)
	// or with an answer that does not decode.
	answered
)

// callError is a failed call, classified by the peers implementation,
// where the transport's errors are understood.
type callError struct {
	cause error
	why   delivery
}

func (e *callError) Error() string { return e.cause.Error() }
func (e *callError) Unwrap() error { return e.cause }

// deliveryOf classifies an error from a peers call.
func deliveryOf(err error) delivery {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.why
	}
	return maybeDelivered
}

// causeOf is a failed call's error without its classification: for an
// answer, the very sentinel the peer named (callers may compare it with ==).
func causeOf(err error) error {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.cause
	}
	return err
}

// refusedWith reports whether a call failed because the peer answered
// with the given sentinel of the msg codec (msg.ErrBusy …).
func refusedWith(err error, sentinel error) bool {
	return deliveryOf(err) == answered && errors.Is(msg.FromRemote(causeOf(err)), sentinel)
}
