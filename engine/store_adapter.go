package engine

import (
	"strconv"

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
	})
	if err != nil {
		return nil, err
	}
	return pebbleStorage{s}, nil
}

// Stats reports the store's counters under a store_ prefix.
func (p pebbleStorage) Stats() []Stat {
	m := p.Metrics()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	failure := "none"
	if m.Failure != nil {
		failure = strconv.Quote(m.Failure.Error())
	}
	return []Stat{
		{"store_buffer_bytes", i(m.BufferBytes)},
		{"store_buffer_limit", i(m.BufferLimit)},
		{"store_buffer_entries", i(m.BufferEntries)},
		{"store_rounds", u(m.Rounds)},
		{"store_round_entries", u(m.RoundEntries)},
		{"store_max_round_entries", u(m.MaxRoundEntries)},
		{"store_syncs", u(m.Syncs)},
		{"store_sync_writes", u(m.SyncWrites)},
		{"store_stalls", u(m.Stalls)},
		{"store_stall_usec", i(m.StallTime.Microseconds())},
		{"store_failure", failure},
		{"pebble_l0_files", i(m.Pebble.L0Files)},
		{"pebble_tables", i(m.Pebble.Tables)},
		{"pebble_read_amp", strconv.Itoa(m.Pebble.ReadAmp)},
		{"pebble_disk_bytes", u(m.Pebble.DiskBytes)},
		{"pebble_memtable_bytes", u(m.Pebble.MemTableBytes)},
		{"pebble_cache_bytes", i(m.Pebble.CacheBytes)},
		{"pebble_cache_hits", i(m.Pebble.CacheHits)},
		{"pebble_cache_misses", i(m.Pebble.CacheMisses)},
		{"pebble_wal_bytes_written", u(m.Pebble.WALBytesWritten)},
		{"pebble_flushes", i(m.Pebble.Flushes)},
		{"pebble_compactions", i(m.Pebble.Compactions)},
		{"pebble_compaction_debt", u(m.Pebble.CompactionDebt)},
		{"pebble_write_stalls", u(m.Pebble.WriteStalls)},
		{"pebble_write_stall_usec", i(m.Pebble.WriteStallTime.Microseconds())},
	}
}
