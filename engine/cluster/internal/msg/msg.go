// Package msg is the codec of the cluster's internode messages: their
// type numbers, their payloads and the error codes their answers carry,
// both ways. The cluster package's peer client and its handler encode and
// decode through it, and nothing else builds or parses a payload. It does
// no I/O; protocol/wire frames and carries the bytes.
package msg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// Internode message types. ONLY APPEND: the numbers are the protocol.
const (
	Fetch     wire.MsgType = 1  // key → found, record
	Merge     wire.MsgType = 2  // key, record, durability, hint owner → ack
	Put       wire.MsgType = 3  // a forwarded write → cas, context
	FlushAll  wire.MsgType = 4  // delay in ms → ack
	Tree      wire.MsgType = 5  // partition → merkle leaves of the responder's records
	Segment   wire.MsgType = 6  // hash range → (key, record) pairs, truncated flag
	Digest    wire.MsgType = 7  // key → found, xxHash64 of the record (as Fetch's answer)
	Reapable  wire.MsgType = 8  // retired (it did not say whom the asker asked): answered with no to every pair
	Reap      wire.MsgType = 9  // (key, digest) pairs → how many the responder reaped
	Holds     wire.MsgType = 10 // (key, digest) pairs → per pair, whether the responder owns the key and holds that record
	ReapCheck wire.MsgType = 11 // the nodes the asker asks, (key, digest) pairs → per pair, whether the responder lets it be reaped
)

// ServerTypes is every message type a node serves.
var ServerTypes = wire.NewTypeSet(Fetch, Merge, Put, FlushAll, Tree, Segment, Digest, Reapable, Reap, Holds, ReapCheck)

// Error codes carried in wire.RemoteError, so a coordinator's answer keeps
// the engine's sentinel across a forward. ONLY APPEND.
const (
	codeOther uint16 = iota
	codeNotStored
	codeExists
	codeNotFound
	codeBadContext
	codeKeyTooLong
	codeClosed
	codeUnavailable
	codeBadQuorum
	codeNotNumber
	codeLateForward
	codeNotOwner
	codeNotReady
	codeBusy
	codeUnasked
	codeFromRemoved
)

var codeErrors = map[uint16]error{
	codeNotStored:   kv.ErrNotStored,
	codeExists:      kv.ErrExists,
	codeNotFound:    kv.ErrNotFound,
	codeBadContext:  kv.ErrBadContext,
	codeKeyTooLong:  kv.ErrKeyTooLong,
	codeClosed:      kv.ErrClosed,
	codeUnavailable: kv.ErrUnavailable,
	codeBadQuorum:   kv.ErrBadQuorum,
	codeNotNumber:   kv.ErrNotNumber,
	codeLateForward: ErrLateForward,
	codeNotOwner:    ErrNotOwner,
	codeNotReady:    ErrNotReady,
	codeBusy:        ErrBusy,
	codeUnasked:     ErrUnasked,
	codeFromRemoved: ErrFromRemoved,
}

// ErrFromRemoved: a merge came from a node this one's ring has removed
// (dynctl remove), and was not taken. Its copies were declared lost and
// rebuilt from the others; what it still holds (a write it took while
// cut off and failed, a hint it kept) must not come back through it once
// the others have moved on, deleted or reaped past it.
var ErrFromRemoved = errors.New("cluster: merge refused: the sender was removed from the ring")

// ErrUnasked: a reap check reached a node that knows of a node the reaper
// did not ask; the reaper's view of the cluster is partial, so nothing may
// be reaped this round (and nothing is in dispute).
var ErrUnasked = errors.New("cluster: reap check refused: the reaper did not ask every node this one knows of")

// ErrBusy: a catch-up pull (Purpose CatchUp) reached a node whose grant
// for serving them is spent (its admission controller backed it off for
// its clients' sake); pull again later.
var ErrBusy = errors.New("cluster: catch-up pull refused for now: this node's grant for serving them is spent")

// ErrNotReady: a read reached a replica still catching up the key's
// partition (it became a replica of it lately) that could reach none of
// the partition's earlier replicas to read through to; read another.
var ErrNotReady = errors.New("cluster: this replica is still catching up the key's partition and reached none of its earlier replicas")

// ErrNotOwner: a transfer (MergeRequest.Transfer) reached a node that does
// not own the key in its ring, and was not taken.
var ErrNotOwner = errors.New("cluster: transfer refused: this node does not own the key")

// ErrLateForward: a forwarded write reached its owner after the forwarder
// had stopped waiting for it, and was not applied.
var ErrLateForward = errors.New("cluster: forwarded write arrived after its deadline; not applied")

// ToRemote turns an engine error into a wire error with its code.
func ToRemote(err error) error {
	for code, sentinel := range codeErrors {
		if errors.Is(err, sentinel) {
			return wire.NewRemoteError(code, err.Error())
		}
	}
	return err
}

// FromRemote turns a peer's error back into the engine's sentinel.
func FromRemote(err error) error {
	var re *wire.RemoteError
	if errors.As(err, &re) {
		if sentinel, ok := codeErrors[re.Code]; ok {
			if re.Code == codeUnavailable {
				return fmt.Errorf("%w (at the coordinator: %s)", sentinel, re.Msg)
			}
			return sentinel
		}
	}
	return err
}

// A fetch (and a digest) asks for one key's record.
func AppendFetch(dst, key []byte) []byte { return wire.AppendBytes(dst, key) }

// AppendFetchOwn encodes a fetch (or digest) of the responder's own copy:
// a replica still catching up the key's partition answers it from its
// store as it is, without reading through to the partition's earlier
// replicas. Replicas reading through to each other ask this, so that two
// catching up at once do not read through to each other without end.
func AppendFetchOwn(dst, key []byte) []byte {
	return wire.AppendUint8(wire.AppendBytes(dst, key), fetchOwn)
}

// fetchOwn is the flag byte of AppendFetchOwn; a plain fetch has none.
const fetchOwn = 1

// DecodeFetch decodes a fetch or digest request; own says the responder
// must answer from its own copy (AppendFetchOwn).
func DecodeFetch(p []byte) (key []byte, own bool, err error) {
	d := wire.NewDecoder(p)
	key = d.Bytes()
	if d.Remaining() > 0 {
		if flags := d.Uint8(); flags != fetchOwn {
			return nil, false, fmt.Errorf("cluster: fetch flags %#x", flags)
		}
		own = true
	}
	return key, own, d.Finish()
}

// FetchAnswer is a replica's answer to a fetch or a digest request.
// Behind says the replica is catching up the key's partition (it joined,
// or the ring moved the partition to it): it read its answer through from
// the partition's earlier replicas, and a coordinator that can make its
// quorum without it leaves it out of reads for a while.
type FetchAnswer struct {
	Found, Behind bool
}

// The flag bits of a fetch answer's first byte.
const (
	answerFound  = 1 << 0
	answerBehind = 1 << 1
)

// AppendFetchResp encodes a fetch's answer: its flags, then the record.
func AppendFetchResp(dst []byte, a FetchAnswer, rec []byte) []byte {
	f := uint8(0)
	if a.Found {
		f |= answerFound
	}
	if a.Behind {
		f |= answerBehind
	}
	return wire.AppendBytes(wire.AppendUint8(dst, f), rec)
}

func DecodeFetchResp(p []byte) (a FetchAnswer, rec []byte, err error) {
	d := wire.NewDecoder(p)
	f := d.Uint8()
	rec = d.Bytes()
	if err := d.Finish(); err != nil {
		return FetchAnswer{}, nil, err
	}
	if f&^(answerFound|answerBehind) != 0 {
		return FetchAnswer{}, nil, fmt.Errorf("cluster: fetch answer flags %#x", f)
	}
	return FetchAnswer{Found: f&answerFound != 0, Behind: f&answerBehind != 0}, rec, nil
}

// AppendDigestResp encodes a Digest answer: as Fetch's, with the
// record's digest (engine.Digest, 8 bytes little endian) for the record.
func AppendDigestResp(dst []byte, a FetchAnswer, digest uint64) []byte {
	if !a.Found {
		return AppendFetchResp(dst, a, nil)
	}
	var d [8]byte
	binary.LittleEndian.PutUint64(d[:], digest)
	return AppendFetchResp(dst, a, d[:])
}

func DecodeDigestResp(p []byte) (a FetchAnswer, digest uint64, err error) {
	a, d, err := DecodeFetchResp(p)
	switch {
	case err != nil:
		return a, 0, err
	case a.Found && len(d) != 8:
		return FetchAnswer{}, 0, fmt.Errorf("cluster: %d-byte digest", len(d))
	case a.Found:
		digest = binary.LittleEndian.Uint64(d)
	}
	return a, digest, nil
}

// MergeRequest is one record sent to a replica, with the owners that are
// owed it: the one a fallback stands in for, and every owner the write
// could not reach. Each replica that takes the record keeps a hint for
// each of them, so that whichever of them survives delivers it.
//
// Transfer marks a record its sender lets go of once this replica has it
// (ownership handoff, hint delivery): the replica takes it only if it owns
// the key in its own ring, and answers ErrNotOwner otherwise. Two nodes
// whose rings disagree could otherwise each hand a record to the other as
// its owner and both let go of it.
//
// From names the sending node (empty from an older sender, or a node's
// own merge): a replica refuses a merge from a node its ring has removed
// (ErrFromRemoved).
type MergeRequest struct {
	Key, Rec   []byte
	Durability kv.Durability
	Owed       []string
	Transfer   bool
	From       string
}

// The flag bits of a merge. The flags byte is sent only when a flag is
// set, so a plain merge encodes as before; mergeFrom is followed by the
// sender's ID.
const (
	mergeTransfer = 1 << iota
	mergeFrom
)

// MaxOwed bounds the owners a merge may name (a key has N of them).
const MaxOwed = 255

// AppendMerge encodes a merge: key, record, durability, owed owners.
func AppendMerge(dst []byte, m *MergeRequest) []byte {
	dst = wire.AppendBytes(dst, m.Key)
	dst = wire.AppendBytes(dst, m.Rec)
	dst = wire.AppendUint8(dst, uint8(m.Durability))
	dst = wire.AppendUvarint(dst, uint64(len(m.Owed)))
	for _, o := range m.Owed {
		dst = wire.AppendString(dst, o)
	}
	var flags uint8
	if m.Transfer {
		flags |= mergeTransfer
	}
	if m.From != "" {
		flags |= mergeFrom
	}
	if flags != 0 {
		dst = wire.AppendUint8(dst, flags)
	}
	if m.From != "" {
		dst = wire.AppendString(dst, m.From)
	}
	return dst
}

func DecodeMerge(p []byte, m *MergeRequest) error {
	d := wire.NewDecoder(p)
	m.Key = d.Bytes()
	m.Rec = d.Bytes()
	m.Durability = kv.Durability(d.Uint8())
	n := d.Uvarint()
	if n > MaxOwed {
		return fmt.Errorf("cluster: merge names %d owed owners", n)
	}
	m.Owed = m.Owed[:0]
	for range n {
		m.Owed = append(m.Owed, d.Text())
	}
	m.Transfer, m.From = false, ""
	if d.Remaining() > 0 {
		flags := d.Uint8()
		if flags == 0 || flags&^(mergeTransfer|mergeFrom) != 0 {
			return fmt.Errorf("cluster: merge flags %#x", flags)
		}
		m.Transfer = flags&mergeTransfer != 0
		if flags&mergeFrom != 0 {
			if m.From = d.Text(); m.From == "" {
				return errors.New("cluster: merge names an empty sender")
			}
		}
	}
	if err := d.Finish(); err != nil {
		return err
	}
	if m.Durability > kv.Sync {
		return fmt.Errorf("cluster: bad durability %d", m.Durability)
	}
	return nil
}

// KeyDigest is one (key, record digest) pair of a reap round or a holds
// check.
type KeyDigest struct {
	Key    []byte
	Digest uint64
}

// AppendKeyDigests encodes the pairs of a reap check, a reap or a holds
// check.
func AppendKeyDigests(dst []byte, kds []KeyDigest) []byte {
	dst = wire.AppendUvarint(dst, uint64(len(kds)))
	for _, kd := range kds {
		dst = wire.AppendUint64(wire.AppendBytes(dst, kd.Key), kd.Digest)
	}
	return dst
}

func DecodeKeyDigests(p []byte) ([]KeyDigest, error) {
	d := wire.NewDecoder(p)
	kds := decodeKeyDigests(&d, len(p))
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return kds, nil
}

func decodeKeyDigests(d *wire.Decoder, size int) []KeyDigest {
	n := d.Uvarint()
	if n > uint64(size) {
		d.Fail("malformed key digests: %d pairs in %d bytes", n, size)
		return nil
	}
	out := make([]KeyDigest, 0, n)
	for range n {
		out = append(out, KeyDigest{Key: d.Bytes(), Digest: d.Uint64()})
	}
	return out
}

// A holds question names the node asking (a responder still pulling the
// partition from it refuses), then (key, digest) pairs.
func AppendHolds(dst []byte, asker string, kds []KeyDigest) []byte {
	return AppendKeyDigests(wire.AppendBytes(dst, []byte(asker)), kds)
}

func DecodeHolds(p []byte) (asker string, kds []KeyDigest, err error) {
	d := wire.NewDecoder(p)
	asker = d.Text()
	kds = decodeKeyDigests(&d, len(p))
	if err := d.Finish(); err != nil {
		return "", nil, err
	}
	return asker, kds, nil
}

// A reap check names every node the asker asks (itself included), then
// the pairs: a responder that knows of a node not named must say no, for
// that node may hold a copy nobody asked about.
func AppendReapCheck(dst []byte, asked []string, kds []KeyDigest) []byte {
	dst = wire.AppendUvarint(dst, uint64(len(asked)))
	for _, id := range asked {
		dst = wire.AppendBytes(dst, []byte(id))
	}
	return AppendKeyDigests(dst, kds)
}

func DecodeReapCheck(p []byte) (asked []string, kds []KeyDigest, err error) {
	d := wire.NewDecoder(p)
	n := d.Uvarint()
	if n > uint64(len(p)) {
		return nil, nil, errors.New("cluster: malformed reap check")
	}
	asked = make([]string, 0, n)
	for range n {
		asked = append(asked, d.Text())
	}
	kds = decodeKeyDigests(&d, len(p))
	if err := d.Finish(); err != nil {
		return nil, nil, err
	}
	return asked, kds, nil
}

// A merge's answer is the digest of the record the replica holds
// afterwards; an answer of any other length (a node that predates it)
// reads as 0, "did not say".
func AppendMergeResp(dst []byte, digest uint64) []byte { return wire.AppendUint64(dst, digest) }

func DecodeMergeResp(p []byte) uint64 {
	if len(p) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

// Purpose is why a node asks another for a partition's tree or a
// segment's records, which decides how the other serves it.
type Purpose uint8

const (
	// AntiEntropy: an exchange between replicas. A responder catching
	// up the partition refuses it (ErrNotReady): its copy is incomplete,
	// and the pull already brings it what the exchange would.
	AntiEntropy Purpose = iota
	// CatchUp: a new replica pulling the partition. The responder paces
	// these against its own clients (ErrBusy), and answers from its own
	// copy whatever its state.
	CatchUp
	// Handoff: a node handing off a partition it no longer replicates
	// asks an owner for its tree, to drop at once every segment whose
	// records the owner holds exactly as it does. A responder that does
	// not own the partition by its own ring refuses (ErrNotReady): it
	// would hand the records off in turn.
	Handoff
)

// A tree request names a partition and its purpose.
func AppendTree(dst []byte, partition int, why Purpose) []byte {
	return wire.AppendUint8(wire.AppendUint32(dst, uint32(partition)), uint8(why))
}

func DecodeTree(p []byte) (partition int, why Purpose, err error) {
	d := wire.NewDecoder(p)
	partition = int(d.Uint32())
	why = Purpose(d.Uint8())
	return partition, why, d.Finish()
}

// A segment request names a hash range [lo, hi) and its purpose.
func AppendSegmentReq(dst []byte, lo, hi uint64, why Purpose) []byte {
	return wire.AppendUint8(wire.AppendUint64(wire.AppendUint64(dst, lo), hi), uint8(why))
}

func DecodeSegmentReq(p []byte) (lo, hi uint64, why Purpose, err error) {
	d := wire.NewDecoder(p)
	lo, hi = d.Uint64(), d.Uint64()
	why = Purpose(d.Uint8())
	return lo, hi, why, d.Finish()
}

// SegmentBudget bounds a segment answer; a larger segment is sent in
// parts, each asked for from where the one before ended.
const SegmentBudget = 4 << 20

// AppendSegment encodes a segment answer: a truncated flag, then (key,
// record) pairs of records up to SegmentBudget bytes, and at least one,
// so that asking again after the last one sent always moves on.
func AppendSegment(dst []byte, records iter.Seq2[[]byte, []byte]) []byte {
	var body []byte
	truncated := uint8(0)
	for key, rec := range records {
		if len(body) > 0 && len(body)+len(key)+len(rec) > SegmentBudget {
			truncated = 1
			break
		}
		body = wire.AppendBytes(wire.AppendBytes(body, key), rec)
	}
	return append(wire.AppendUint8(dst, truncated), body...)
}

// DecodeSegment decodes a segment answer; truncated says the responder
// had more records in the range than it sent.
func DecodeSegment(p []byte) (records map[string][]byte, truncated bool, err error) {
	d := wire.NewDecoder(p)
	truncated = d.Uint8() != 0
	out := map[string][]byte{}
	for d.Remaining() > 0 && d.Err() == nil {
		key := d.Bytes()
		rec := d.Bytes()
		out[string(key)] = rec
	}
	return out, truncated, d.Err()
}

// A flush_all carries its delay in milliseconds.
func AppendFlushAll(dst []byte, delay time.Duration) []byte {
	return wire.AppendUint64(dst, uint64(delay.Milliseconds()))
}

func DecodeFlushAll(p []byte) (time.Duration, error) {
	d := wire.NewDecoder(p)
	ms := d.Uint64()
	return time.Duration(ms) * time.Millisecond, d.Finish()
}

// A reap check's answer, and a holds check's, is one byte per pair, 1
// where the answer is yes.
func AppendBoolsResp(dst []byte, ok []bool) []byte {
	for _, b := range ok {
		v := uint8(0)
		if b {
			v = 1
		}
		dst = append(dst, v)
	}
	return dst
}

func DecodeBoolsResp(p []byte, pairs int) ([]bool, error) {
	if len(p) != pairs {
		return nil, fmt.Errorf("cluster: %d answers for %d keys", len(p), pairs)
	}
	ok := make([]bool, len(p))
	for i, b := range p {
		ok[i] = b == 1
	}
	return ok, nil
}

// A reap's answer is how many keys the responder reaped.
func AppendReapResp(dst []byte, count int) []byte { return wire.AppendUvarint(dst, uint64(count)) }

func DecodeReapResp(p []byte) (int, error) {
	d := wire.NewDecoder(p)
	n := d.Uvarint()
	return int(n), d.Finish()
}
