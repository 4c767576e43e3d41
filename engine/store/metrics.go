package store

import "time"

// Metrics is a snapshot of the store's counters, for `stats`.
type Metrics struct {
	BufferBytes   int64 // bytes held by the write buffer, bookkeeping included
	BufferLimit   int64 // Options.BufferBytes
	BufferEntries int64 // keys waiting in the buffer

	Rounds          uint64 // writer commits that wrote at least one entry
	RoundEntries    uint64 // entries those commits wrote; RoundEntries/Rounds is the mean batch
	RoundBytes      uint64 // Pebble batch bytes those commits wrote
	MaxRoundEntries uint64 // the largest round
	Syncs           uint64 // WAL fsyncs the writer asked for
	SyncWrites      uint64 // Sync-mode writes acknowledged; SyncWrites/Syncs is the group-commit factor

	Stalls    uint64        // writes that waited for buffer room
	StallTime time.Duration // their total wait

	Failure error // the sticky commit failure; nil while healthy

	Pebble PebbleMetrics
}

// PebbleMetrics summarises Pebble's own metrics.
type PebbleMetrics struct {
	L0Files          int64
	L0Sublevels      int32
	Tables           int64
	ReadAmp          int
	DiskBytes        uint64
	MemTableBytes    uint64
	MemTables        int64
	CacheBytes       int64
	CacheHits        int64
	CacheMisses      int64
	WALBytesWritten  uint64
	Flushes          int64
	Compactions      int64
	CompactionsNow   int64 // in progress
	CompactionDebt   uint64
	WriteStalls      uint64
	WriteStallTime   time.Duration
	BackgroundErrors uint64
}

// Metrics returns the current counters. After Close only the store's own
// counters are filled in.
func (s *Store) Metrics() Metrics {
	m := Metrics{
		BufferBytes:     s.room.used.Load(),
		BufferLimit:     s.opts.BufferBytes,
		BufferEntries:   s.buf.entries.Load(),
		Rounds:          s.stats.rounds.Load(),
		RoundEntries:    s.stats.entries.Load(),
		RoundBytes:      s.stats.bytes.Load(),
		MaxRoundEntries: s.stats.maxEntries.Load(),
		Syncs:           s.stats.syncs.Load(),
		SyncWrites:      s.syncWrites.Load(),
		Stalls:          s.room.stalls.Load(),
		StallTime:       time.Duration(s.room.stallNanos.Load()),
	}
	if p := s.failure.Load(); p != nil {
		m.Failure = *p
	}
	m.Pebble.WriteStalls = s.events.writeStalls.Load()
	m.Pebble.WriteStallTime = time.Duration(s.events.writeStallNanos.Load())
	m.Pebble.BackgroundErrors = s.events.backgroundErrors.Load()
	if s.gate.enter() {
		s.pebbleMetrics(&m.Pebble)
		s.gate.exit()
	}
	return m
}

func (s *Store) pebbleMetrics(pm *PebbleMetrics) {
	pbm := s.db.Metrics()
	pm.L0Files = pbm.Levels[0].TablesCount
	pm.L0Sublevels = pbm.Levels[0].Sublevels
	pm.Tables = pbm.Total().TablesCount
	pm.ReadAmp = pbm.ReadAmp()
	pm.DiskBytes = pbm.DiskSpaceUsage()
	pm.MemTableBytes = pbm.MemTable.Size
	pm.MemTables = pbm.MemTable.Count
	pm.CacheBytes = pbm.BlockCache.Size
	pm.CacheHits = pbm.BlockCache.Hits
	pm.CacheMisses = pbm.BlockCache.Misses
	pm.WALBytesWritten = pbm.WAL.BytesWritten
	pm.Flushes = pbm.Flush.Count
	pm.Compactions = pbm.Compact.Count
	pm.CompactionsNow = pbm.Compact.NumInProgress
	pm.CompactionDebt = pbm.Compact.EstimatedDebt
}
