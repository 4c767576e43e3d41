package engine

import (
	"errors"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Options configures an Engine. Zero fields take the documented defaults,
// set in one place, EnsureDefaults; Open applies them and Validate.
type Options struct {
	// Dir is the data directory. Required unless FS is an in-memory FS.
	Dir string
	// FS is the filesystem Pebble uses; nil means the real disk. Tests pass
	// vfs.NewMem() or vfs.NewCrashableMem().
	FS vfs.FS
	// Durability is the node's mode for writes that do not name one.
	// Default Buffered.
	Durability kv.Durability
	// BufferBytes is the write buffer's capacity; writers wait when it is
	// full. Default 64 MiB.
	BufferBytes int64
	// FlushInterval bounds how long a buffered write waits before the
	// background writer moves it to Pebble. Default 10 ms.
	FlushInterval time.Duration
	// SyncInterval bounds how long committed Buffered and WAL writes wait
	// for an fsync while no Sync writer forces one. Default 100 ms;
	// negative disables the periodic fsync.
	SyncInterval time.Duration
	// CacheBytes is Pebble's block cache. Default 256 MiB.
	CacheBytes int64
	// MemTableBytes sizes each Pebble memtable, and so how long its WAL
	// grows before it rotates. Default (0): the store's, 64 MiB.
	MemTableBytes uint64
	// RecordCacheBytes bounds the cache of records (by client key) that
	// reads of hot keys are served from. Default 128 MiB; negative: off.
	RecordCacheBytes int64

	// MaxSiblings bounds the versions a write may leave a key with: one
	// that would leave more is refused (kv.ErrTooManySiblings) and counted
	// in stats (sibling_cap_hits). Merges of other replicas' versions are
	// never refused, so a key can hold more after a partition heals; a
	// write whose context covers them resolves them. Default 64.
	MaxSiblings int
	// TombstoneTTL is how long a delete's tombstone is kept before the
	// reaper may remove it; it must outlast replica repair in a cluster.
	// Default 24 h.
	TombstoneTTL time.Duration
	// ReapInterval is how often the reaper looks for expired items, flushed
	// items and old tombstones; ReapBatch how many records it examines per
	// round. Defaults 1 s and 10,000.
	ReapInterval time.Duration
	ReapBatch    int
	// ReapShare is the fraction of one core a reaper round may keep busy:
	// it rests between chunks of 256 records to hold that share. Default
	// 0.1; 1 means no rests.
	ReapShare float64

	// Replicated says other nodes hold replicas of these records: the
	// engine then never reaps dead records itself (ReapIf does, when the
	// cluster layer has checked that every replica agrees; see dead.go).
	Replicated bool

	// Now is the wall clock; nil means time.Now. Tests inject their own.
	Now func() time.Time
	// Observer, when set, sees every change this engine makes to a record
	// or a hint, under the key's lock, in order: the simulator's checks and
	// traces (engine/sim). It must not call the engine. Default nil.
	Observer func(Event)
	// Logger receives the store's events: Pebble's write stalls and slow
	// disks (warnings), its errors, and its routine messages (debug).
	// Default nil: discarded.
	Logger *slog.Logger
	// Storage, when set, replaces the Pebble-backed store (tests inject
	// faults with it); Dir, FS and the buffer settings are then unused.
	Storage Storage
}

// ErrOptions reports an invalid setting.
var ErrOptions = errors.New("engine: invalid options")

// EnsureDefaults sets every zero field to its default.
func (o *Options) EnsureDefaults() {
	if o.Durability == kv.DurabilityDefault {
		o.Durability = kv.Buffered
	}
	if o.BufferBytes == 0 {
		o.BufferBytes = 64 << 20
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 10 * time.Millisecond
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = 256 << 20
	}
	if o.RecordCacheBytes == 0 {
		o.RecordCacheBytes = 128 << 20
	}
	if o.MaxSiblings == 0 {
		o.MaxSiblings = 64
	}
	if o.TombstoneTTL == 0 {
		o.TombstoneTTL = 24 * time.Hour
	}
	if o.ReapInterval == 0 {
		o.ReapInterval = time.Second
	}
	if o.ReapBatch == 0 {
		o.ReapBatch = 10_000
	}
	if o.ReapShare == 0 {
		o.ReapShare = 0.1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports the first setting out of range, after EnsureDefaults.
func (o *Options) Validate() error {
	switch {
	case o.Durability > kv.Sync:
		return errors.Join(ErrOptions, errors.New("unknown durability mode"))
	case o.BufferBytes < 0, o.FlushInterval < 0, o.CacheBytes < 0, o.TombstoneTTL < 0, o.ReapInterval < 0, o.ReapBatch < 0:
		return errors.Join(ErrOptions, errors.New("sizes and durations must not be negative"))
	case o.ReapShare < 0 || o.ReapShare > 1:
		return errors.Join(ErrOptions, errors.New("ReapShare must be in (0, 1]"))
	case o.MaxSiblings < 1:
		return errors.Join(ErrOptions, errors.New("MaxSiblings must be at least 1"))
	case o.Storage == nil && o.Dir == "" && o.FS == nil:
		return errors.Join(ErrOptions, errors.New("a data directory is required"))
	}
	return nil
}
