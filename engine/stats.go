package engine

import (
	"strconv"
	"sync/atomic"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/record"
)

// counters are the engine's statistics, cheap enough to leave on.
type counters struct {
	items          atomic.Int64  // records holding at least one value sibling
	bytes          atomic.Int64  // stored key + record bytes of all records
	puts           atomic.Uint64 // successful writes
	siblingCapHits atomic.Uint64 // writes refused at MaxSiblings
	reaped         atomic.Uint64 // records reclaimed by the reaper
	flushes        atomic.Uint64 // flush_all calls
	merges         atomic.Uint64 // replica merges that changed the local record
	hintsAdded     atomic.Uint64 // hints recorded for absent owners
	hintsHeld      atomic.Int64  // hints stored now: counted at open, then kept by add and delete
	handedOff      atomic.Uint64 // records dropped after delivery to their owners
	fenced         atomic.Uint64 // late copies of reaped records refused
	epochs         atomic.Uint64 // fresh actor epochs handed out (keys new or forgotten here)
	incarnations   atomic.Uint64 // incarnations started (at open after an unclean stop, when epochs run out)
	actorReused    bool          // set once at open
}

// replaced accounts for one stored record going from old to new; a
// missing side has found false (and its length is ignored).
func (c *counters) replaced(keyLen int, oldFound, oldItem bool, oldLen int, newFound, newItem bool, newLen int) {
	var delta int64
	if oldFound {
		delta -= int64(keyLen + oldLen)
	}
	if newFound {
		delta += int64(keyLen + newLen)
	}
	c.bytes.Add(delta)
	switch {
	case newItem && !oldItem:
		c.items.Add(1)
	case oldItem && !newItem:
		c.items.Add(-1)
	}
}

// Stats implements KV.
func (e *Engine) Stats() []kv.Stat {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	out := []kv.Stat{
		{Name: "curr_items", Value: i(e.stats.items.Load())},
		{Name: "bytes", Value: i(e.stats.bytes.Load())},
		{Name: "engine_incarnation", Value: strconv.FormatUint(e.actors.incarnation.Load(), 16)},
		{Name: "engine_actor_epochs", Value: u(e.stats.epochs.Load())},
		{Name: "engine_incarnations", Value: u(e.stats.incarnations.Load())},
		{Name: "engine_durability", Value: e.opts.Durability.String()},
		{Name: "engine_puts", Value: u(e.stats.puts.Load())},
		{Name: "engine_sibling_cap_hits", Value: u(e.stats.siblingCapHits.Load())},
		{Name: "engine_reaped", Value: u(e.stats.reaped.Load())},
		{Name: "engine_flushes", Value: u(e.stats.flushes.Load())},
		{Name: "engine_merges", Value: u(e.stats.merges.Load())},
		{Name: "engine_hints_added", Value: u(e.stats.hintsAdded.Load())},
		{Name: "engine_hints_held", Value: strconv.FormatInt(e.stats.hintsHeld.Load(), 10)},
		{Name: "engine_handed_off", Value: u(e.stats.handedOff.Load())},
		{Name: "engine_fenced", Value: u(e.stats.fenced.Load())},
	}
	cs := e.cache.Stats()
	// limit_maxbytes, as memcached dashboards read it: the memory this node
	// may hold data in (record cache, and the store's buffer, block cache
	// and memtables).
	limit := max(e.opts.RecordCacheBytes, 0)
	if m, ok := e.st.(interface{ MemoryLimit() int64 }); ok {
		limit += m.MemoryLimit()
	}
	out = append(out,
		kv.Stat{Name: "limit_maxbytes", Value: i(limit)},
		kv.Stat{Name: "engine_record_cache_bytes", Value: i(cs.Bytes)},
		kv.Stat{Name: "engine_record_cache_entries", Value: i(cs.Entries)},
		kv.Stat{Name: "engine_record_cache_hits", Value: u(cs.Hits)},
		kv.Stat{Name: "engine_record_cache_misses", Value: u(cs.Misses)},
		kv.Stat{Name: "engine_record_cache_evictions", Value: u(cs.Evictions)},
	)
	return append(out, e.st.Stats()...)
}

// HintsHeld is how many hints this node stores: writes it keeps for
// owners that have not taken them yet.
func (e *Engine) HintsHeld() int64 { return e.stats.hintsHeld.Load() }

// countRecords rebuilds curr_items and bytes by scanning the data range,
// and the hints held by scanning theirs, once at open; from then on
// writes, the reaper and hint deliveries keep them current.
func (e *Engine) countRecords() error {
	var items, bytes int64
	var rec record.Record
	err := e.st.Scan(dataLo, dataHi, func(k, v []byte) bool {
		bytes += int64(len(k) + len(v))
		if record.Decode(&rec, v) == nil && hasValue(&rec) {
			items++
		}
		return true
	})
	e.stats.items.Store(items)
	e.stats.bytes.Store(bytes)
	if err != nil {
		return err
	}
	var hints int64
	err = e.ScanHints(func(string, []byte) bool { hints++; return true })
	e.stats.hintsHeld.Store(hints)
	return err
}
