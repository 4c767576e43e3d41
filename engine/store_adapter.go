package engine

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/store"
)

// pebbleStorage adapts *store.Store to Storage.
type pebbleStorage struct{ *store.Store }

func openStore(opts Options) (Storage, error) {
	s, err := store.Open(store.Options{
		Dir:           opts.Dir,
		FS:            opts.FS,
		Durability:    opts.Durability,
		BufferBytes:   opts.BufferBytes,
		FlushInterval: opts.FlushInterval,
		SyncInterval:  opts.SyncInterval,
		CacheBytes:    opts.CacheBytes,
		MemTableBytes: opts.MemTableBytes,
		Logger:        storeLogger(opts.Logger),
	})
	if err != nil {
		return nil, err
	}
	return pebbleStorage{s}, nil
}

// Stats reports the store's counters under a store_ prefix.
func (p pebbleStorage) Stats() []kv.Stat {
	m := p.Metrics()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	failure := "none"
	if m.Failure != nil {
		failure = strconv.Quote(m.Failure.Error())
	}
	return []kv.Stat{
		{Name: "store_buffer_bytes", Value: i(m.BufferBytes)},
		{Name: "store_buffer_limit", Value: i(m.BufferLimit)},
		{Name: "store_buffer_entries", Value: i(m.BufferEntries)},
		{Name: "store_rounds", Value: u(m.Rounds)},
		{Name: "store_round_entries", Value: u(m.RoundEntries)},
		{Name: "store_max_round_entries", Value: u(m.MaxRoundEntries)},
		{Name: "store_syncs", Value: u(m.Syncs)},
		{Name: "store_sync_writes", Value: u(m.SyncWrites)},
		{Name: "store_stalls", Value: u(m.Stalls)},
		{Name: "store_stall_usec", Value: i(m.StallTime.Microseconds())},
		{Name: "store_failure", Value: failure},
		{Name: "pebble_l0_files", Value: i(m.Pebble.L0Files)},
		{Name: "pebble_tables", Value: i(m.Pebble.Tables)},
		{Name: "pebble_read_amp", Value: strconv.Itoa(m.Pebble.ReadAmp)},
		{Name: "pebble_disk_bytes", Value: u(m.Pebble.DiskBytes)},
		{Name: "pebble_memtable_bytes", Value: u(m.Pebble.MemTableBytes)},
		{Name: "pebble_cache_bytes", Value: i(m.Pebble.CacheBytes)},
		{Name: "pebble_cache_hits", Value: i(m.Pebble.CacheHits)},
		{Name: "pebble_cache_misses", Value: i(m.Pebble.CacheMisses)},
		{Name: "pebble_wal_bytes_written", Value: u(m.Pebble.WALBytesWritten)},
		{Name: "pebble_flushes", Value: i(m.Pebble.Flushes)},
		{Name: "pebble_compactions", Value: i(m.Pebble.Compactions)},
		{Name: "pebble_compactions_in_progress", Value: i(m.Pebble.CompactionsNow)},
		{Name: "pebble_compaction_debt", Value: u(m.Pebble.CompactionDebt)},
		{Name: "pebble_write_stalls", Value: u(m.Pebble.WriteStalls)},
		{Name: "pebble_write_stall_usec", Value: i(m.Pebble.WriteStallTime.Microseconds())},
	}
}

// storeLogger carries the store's messages into l: routine ones at debug
// level. nil when l is: the store then discards them.
func storeLogger(l *slog.Logger) store.Logger {
	if l == nil {
		return nil
	}
	return slogStore{l.With("from", "pebble")}
}

type slogStore struct{ l *slog.Logger }

func (s slogStore) Infof(format string, args ...any)  { s.l.Debug(fmt.Sprintf(format, args...)) }
func (s slogStore) Warnf(format string, args ...any)  { s.l.Warn(fmt.Sprintf(format, args...)) }
func (s slogStore) Errorf(format string, args ...any) { s.l.Error(fmt.Sprintf(format, args...)) }

// PaceCompactions makes p pace the store's compactions (see
// store.CompactionPacer); a store with none (the in-memory ones of tests)
// ignores it.
func (e *Engine) PaceCompactions(p store.CompactionPacer) {
	if s, ok := e.st.(interface {
		SetCompactionPacer(store.CompactionPacer)
	}); ok {
		s.SetCompactionPacer(p)
	}
}
