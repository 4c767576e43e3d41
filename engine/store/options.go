package store

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Durability says when a write is acknowledged: the modes of the KV
// contract (engine/kv), which this package implements.
type Durability = kv.Durability

const (
	// DurabilityDefault uses Options.Durability.
	DurabilityDefault = kv.DurabilityDefault
	// Buffered acknowledges once the write is in the in-memory buffer.
	Buffered = kv.Buffered
	// WAL acknowledges once the write is committed to Pebble without fsync.
	WAL = kv.WAL
	// Sync acknowledges once the write is committed and the WAL fsynced.
	Sync = kv.Sync
)

// Logger receives Pebble's informational and error messages. Fatal messages
// are turned into errors by the store (see the package documentation).
type Logger interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any) // what an operator acts on: write stalls, a slow disk
	Errorf(format string, args ...any)
}

// Options configures a Store. The zero value of every field except Dir means
// "use the default".
type Options struct {
	// Dir is the data directory; Pebble keeps its files there. Required.
	Dir string
	// FS is the filesystem Pebble uses. The default is the real disk; tests
	// pass vfs.NewMem() or vfs.NewCrashableMem().
	FS vfs.FS
	// Durability is the mode of writes that pass DurabilityDefault. The
	// default is Sync: the safe mode, and with group commit cheap under
	// concurrency.
	Durability Durability
	// BufferBytes is the write buffer's capacity, counting keys, values and
	// about 64 bytes of bookkeeping per entry. A writer that would exceed it
	// blocks until the background writer frees room; a single write larger
	// than the capacity is admitted once the buffer is empty. The default is
	// 64 MiB.
	BufferBytes int64
	// FlushInterval is the longest a buffered write waits before the writer
	// commits it. The default is 10 ms: it bounds how long a Buffered write
	// lives only in memory, while a round every 10 ms still gathers large
	// batches under load (the writer also starts a round early when a WAL or
	// Sync writer is waiting or the buffer passes a quarter of BufferBytes).
	FlushInterval time.Duration
	// SyncInterval is the longest committed but unsynced data stays that way
	// while the store is idle of Sync writes: the writer fsyncs the WAL at
	// least this often when there is something to sync. The default is
	// 100 ms (at most ten extra fsyncs a second); a negative value disables
	// periodic syncs.
	SyncInterval time.Duration
	// CacheBytes sizes Pebble's block cache. The default is 256 MiB.
	CacheBytes int64
	// MemTableBytes sizes each Pebble memtable. The default is 64 MiB.
	MemTableBytes uint64
	// Logger receives Pebble's messages. The default discards them; the
	// counters in Metrics still record write stalls and background errors.
	Logger Logger

	// beforeCommit, set only by tests, runs in the writer goroutine before
	// each round's commit.
	beforeCommit func()
}

// Defaults of Options, applied by withDefaults.
const (
	DefaultBufferBytes   = 64 << 20
	DefaultFlushInterval = 10 * time.Millisecond
	DefaultSyncInterval  = 100 * time.Millisecond
	DefaultCacheBytes    = 256 << 20
	DefaultMemTableBytes = 64 << 20
)

// withDefaults returns a copy of o with zero fields replaced by defaults.
func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Durability == DurabilityDefault {
		o.Durability = Sync
	}
	if o.BufferBytes == 0 {
		o.BufferBytes = DefaultBufferBytes
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = DefaultMemTableBytes
	}
	if o.Logger == nil {
		o.Logger = discardLogger{}
	}
	return o
}

// validate rejects options that withDefaults cannot make sensible.
func (o *Options) validate() error {
	switch {
	case o.Dir == "":
		return fmt.Errorf("%w: Dir is empty", ErrInvalidOptions)
	case o.Durability > Sync:
		return fmt.Errorf("%w: unknown durability %d", ErrInvalidOptions, o.Durability)
	case o.BufferBytes < 0:
		return fmt.Errorf("%w: BufferBytes %d is negative", ErrInvalidOptions, o.BufferBytes)
	case o.FlushInterval < 0:
		return fmt.Errorf("%w: FlushInterval %v is negative", ErrInvalidOptions, o.FlushInterval)
	case o.CacheBytes < 0:
		return fmt.Errorf("%w: CacheBytes %d is negative", ErrInvalidOptions, o.CacheBytes)
	case o.MemTableBytes < 1<<20:
		return fmt.Errorf("%w: MemTableBytes %d is below 1 MiB", ErrInvalidOptions, o.MemTableBytes)
	}
	return nil
}

type discardLogger struct{}

func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Errorf(string, ...any) {}
