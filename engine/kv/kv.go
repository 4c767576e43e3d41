package kv

import (
	"errors"
	"fmt"
	"time"
)

// Durability says when a write is acknowledged. The storage layer
// (engine/store) implements the modes.
type Durability uint8

const (
	// DurabilityDefault uses the node's configured mode.
	DurabilityDefault Durability = iota
	// Buffered acknowledges once the write is in the in-memory write buffer;
	// a background writer flushes it to Pebble within the flush interval.
	Buffered
	// WAL acknowledges once the write is committed to Pebble's write-ahead
	// log, without fsync.
	WAL
	// Sync acknowledges once the write is fsynced (group commit).
	Sync
)

// String names the mode as the command line spells it.
func (d Durability) String() string {
	switch d {
	case Buffered:
		return "buffered"
	case WAL:
		return "wal"
	case Sync:
		return "sync"
	case DurabilityDefault:
		return "default"
	}
	return fmt.Sprintf("Durability(%d)", uint8(d))
}

// ParseDurability reads "buffered", "wal" or "sync".
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "buffered":
		return Buffered, nil
	case "wal":
		return WAL, nil
	case "sync":
		return Sync, nil
	}
	return DurabilityDefault, errors.New("durability must be buffered, wal or sync, not " + quote(s))
}

func quote(s string) string { return "\"" + s + "\"" }

// MaxKeyLen is the longest key the engine stores, as in memcached.
const MaxKeyLen = 250

// Sibling is one concurrent version of a key's value.
type Sibling struct {
	Value   []byte // owned by the Object that holds it; valid until its next reuse
	Flags   uint32 // memcached client flags, opaque to the engine
	Expires int64  // absolute unix seconds; 0 means never
	// Timestamp is the hybrid logical clock time of the write that made this
	// version; the last-writer-wins policy orders siblings by it.
	Timestamp uint64
	Deleted   bool // a tombstone: the write was a delete
}

// Object is everything a read returns for one key: the versions the engine
// holds that are neither expired nor flushed, and the causal context that
// names them all.
type Object struct {
	// Siblings are the concurrent versions, tombstones included, in no
	// particular order; an expired version reads as a tombstone (it still
	// decides what Winner returns). Empty when the key has no version.
	Siblings []Sibling
	// Context is the opaque, versioned causal context of the read (the
	// object's version vector). A write carrying it supersedes every
	// sibling returned here and nothing written after.
	Context []byte
	// CAS is memcached's cas unique: a 64-bit digest of the key and of
	// the writes its versions' values come from, never 0 while the key has
	// any version (tombstones included); 0 when the key was never written
	// or has been reclaimed. Any write changes it, but a touch (which
	// rewrites a value unchanged) does not, and two keys have different
	// ones. "gets"/"cas" use it.
	CAS uint64

	buf []byte // backing store for Sibling.Value, reused across reads
}

// Reset empties o for reuse, keeping its buffers.
func (o *Object) Reset() {
	o.Siblings = o.Siblings[:0]
	o.Context = o.Context[:0]
	o.CAS = 0
	o.buf = o.buf[:0]
}

// Grow makes room for n more bytes of sibling values, so that the
// AppendSibling calls that follow do not reallocate.
func (o *Object) Grow(n int) {
	if cap(o.buf)-len(o.buf) < n {
		// Values already appended keep pointing into the old array.
		o.buf = make([]byte, 0, len(o.buf)+n)
	}
}

// AppendSibling adds s to o with its value copied into o's own buffer, so
// the object owns everything it returns.
func (o *Object) AppendSibling(s Sibling) {
	start := len(o.buf)
	o.buf = append(o.buf, s.Value...)
	// A new Sibling, not s with its Value replaced: storing s itself would
	// make the caller's value buffer escape to the heap.
	o.Siblings = append(o.Siblings, Sibling{
		Value:     o.buf[start:len(o.buf):len(o.buf)],
		Flags:     s.Flags,
		Expires:   s.Expires,
		Timestamp: s.Timestamp,
		Deleted:   s.Deleted,
	})
}

// Winner is the version a classic memcached client sees: the sibling with
// the greatest timestamp (last writer wins, ties broken by the write's dot).
// ok is false when there is no sibling or the winner is a tombstone.
func (o *Object) Winner() (s *Sibling, ok bool) {
	var best *Sibling
	for i := range o.Siblings {
		c := &o.Siblings[i]
		if best == nil || c.Timestamp > best.Timestamp {
			best = c
		}
	}
	if best == nil || best.Deleted {
		return nil, false
	}
	return best, true
}

// Condition makes a write conditional on the key's current state. The check
// and the write are atomic on one node.
type Condition uint8

const (
	CondNone    Condition = iota
	CondAbsent            // only if the key has no live value (memcached add)
	CondPresent           // only if the key has a live value (replace, append, delete)
	CondCAS               // only if the key's current CAS equals PutRequest.CAS
)

// PutRequest is one write: a new value, or a tombstone when Delete is set.
type PutRequest struct {
	Value   []byte
	Flags   uint32
	Expires int64 // absolute unix seconds; 0 means never
	Delete  bool  // write a tombstone instead of a value

	// Context names the versions this write supersedes (from a previous
	// read). Versions it does not name stay as siblings. Ignored when
	// SupersedeAll is set. nil supersedes nothing.
	Context []byte
	// SupersedeAll supersedes every version this node knows: memcached's
	// set, delete and friends.
	SupersedeAll bool

	Cond Condition
	CAS  uint64 // compared when Cond is CondCAS

	// Touch rewrites the key's winning version with Expires, keeping its
	// value, flags, counter state and cas unique (memcached's touch and
	// gat). Value and Flags are ignored; a key without a live value is
	// ErrNotFound. It supersedes every version.
	Touch bool
	// Arith, when set, makes the write memcached's incr or decr of the
	// winning value, atomically, as a counter whose concurrent changes
	// merge without loss (engine/counter). Value and Flags are ignored.
	Arith *Arith

	Durability Durability

	// W overrides the cluster's write quorum for this request: the replicas
	// that must acknowledge, 1 to N. 0 is the default. A single node has
	// one replica and ignores it.
	W int
}

// Arith is an incr or decr.
type Arith struct {
	Delta uint64
	Decr  bool // decrement, stopping at 0; else increment, wrapping at 2^64
	// SetExpires writes PutRequest.Expires; otherwise the value keeps its
	// expiry.
	SetExpires bool
}

// ReadOptions tune one read.
type ReadOptions struct {
	// R overrides the cluster's read quorum for this request: the replicas
	// that must answer, 1 to N. 0 is the default. A single node has one
	// replica and ignores it.
	R int
}

// PutResult describes the key after a successful write.
type PutResult struct {
	CAS uint64 // the key's new CAS
	// Context names what the write superseded and the write itself: for a
	// write with a context, that context plus the new version (never a
	// version the writer did not see); for one that superseded
	// everything, the key's whole clock. Owned by the caller.
	Context []byte
	// Live reports whether the key had a live value before the write
	// (delete answers NOT_FOUND otherwise).
	Live bool
	// Number is the counter's new value after an Arith write.
	Number uint64
	// PrevExpires is the winning version's expiry before a Touch or Arith
	// write (memcached's ma reports it).
	PrevExpires int64
}

// Errors a write can return; compare with errors.Is.
var (
	// ErrNotStored: CondAbsent or CondPresent did not hold (memcached NOT_STORED).
	ErrNotStored = errors.New("engine: condition not met")
	// ErrExists: CondCAS did not match the current CAS (memcached EXISTS).
	ErrExists = errors.New("engine: cas mismatch")
	// ErrNotFound: CondCAS on a key with no live value (memcached NOT_FOUND).
	ErrNotFound = errors.New("engine: not found")
	// ErrNotNumber: incr or decr of a value that is not a decimal number
	// (memcached's CLIENT_ERROR cannot increment or decrement non-numeric
	// value).
	ErrNotNumber = errors.New("engine: value is not a number")
	// ErrBadContext: the context is not one this engine can decode.
	ErrBadContext = errors.New("engine: malformed context")
	// ErrTooManySiblings: the write would leave the key more concurrent
	// versions than the engine keeps (MaxSiblings). It is refused, not
	// stored by dropping older versions: those were acknowledged. A write
	// whose context covers the versions read resolves them.
	ErrTooManySiblings = errors.New("engine: too many concurrent versions of the key; read it and write back with its context")
	// ErrKeyTooLong: the key is empty or longer than MaxKeyLen.
	ErrKeyTooLong = errors.New("engine: key empty or too long")
	// ErrClosed: the engine is shut down.
	ErrClosed = errors.New("engine: closed")
	// ErrUnavailable: too few replicas answered for the request's quorum.
	// Errors wrapping it say how many did (memcached SERVER_ERROR).
	ErrUnavailable = errors.New("engine: not enough replicas")
	// ErrBadQuorum: a per-request R or W outside 1..N (CLIENT_ERROR).
	ErrBadQuorum = errors.New("engine: quorum must be between 1 and N")
)

// CachedReader is implemented by a KV that can say, without blocking,
// that reading a key would not block. The front end then answers such
// reads on its event loop instead of handing them to a worker.
type CachedReader interface {
	Cached(key []byte) bool
}

// Admin is implemented by a KV that takes administrative commands: the
// text protocol's "admin WORD [ARGS]" (what dynctl sends). Errors wrapping
// ErrAdminUsage are the caller's mistake (CLIENT_ERROR); others are
// SERVER_ERROR.
type Admin interface {
	Admin(args []string) ([]Stat, error)
}

// ErrAdminUsage marks an admin command the KV does not understand.
var ErrAdminUsage = errors.New("bad admin command")

// Stat is one name/value line of the engine's statistics.
type Stat struct {
	Name  string
	Value string
}

// KV is the engine as the protocol layer sees it. Every method is safe for
// concurrent use and may block on I/O, so callers run them off event loops.
type KV interface {
	// Get fills o (after o.Reset) with key's live versions and context.
	// A key with no live version leaves o.Siblings empty; that is not an error.
	Get(key []byte, o *Object, opt ReadOptions) error
	// Put applies one write and returns the key's new CAS and context.
	Put(key []byte, req *PutRequest) (PutResult, error)
	// FlushAll invalidates every item written before now+delay, as
	// memcached's flush_all does; delay 0 means now.
	FlushAll(delay time.Duration) error
	// Stats returns the engine's counters: memcached's curr_items and bytes,
	// plus the store's own.
	Stats() []Stat
}
