package engine

import (
	"strconv"
	"sync/atomic"

	"github.com/dynamo-kv/dynamo/engine/record"
)

// counters are the engine's statistics, cheap enough to leave on.
type counters struct {
	items          atomic.Int64  // records holding at least one value sibling
	bytes          atomic.Int64  // stored key + record bytes of all records
	puts           atomic.Uint64 // successful writes
	siblingCapHits atomic.Uint64 // writes that hit MaxSiblings
	siblingsPruned atomic.Uint64 // siblings dropped by the bound
	reaped         atomic.Uint64 // records reclaimed by the reaper
	flushes        atomic.Uint64 // flush_all calls
	merges         atomic.Uint64 // replica merges that changed the local record
	hintsAdded     atomic.Uint64 // hints recorded for absent owners
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
func (e *Engine) Stats() []Stat {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	out := []Stat{
		{"curr_items", i(e.stats.items.Load())},
		{"bytes", i(e.stats.bytes.Load())},
		{"engine_incarnation", strconv.FormatUint(e.actors.incarnation.Load(), 16)},
		{"engine_actor_epochs", u(e.stats.epochs.Load())},
		{"engine_incarnations", u(e.stats.incarnations.Load())},
		{"engine_durability", e.opts.Durability.String()},
		{"engine_puts", u(e.stats.puts.Load())},
		{"engine_sibling_cap_hits", u(e.stats.siblingCapHits.Load())},
		{"engine_siblings_pruned", u(e.stats.siblingsPruned.Load())},
		{"engine_reaped", u(e.stats.reaped.Load())},
		{"engine_flushes", u(e.stats.flushes.Load())},
		{"engine_merges", u(e.stats.merges.Load())},
		{"engine_hints_added", u(e.stats.hintsAdded.Load())},
		{"engine_handed_off", u(e.stats.handedOff.Load())},
		{"engine_fenced", u(e.stats.fenced.Load())},
	}
	cs := e.cache.Stats()
	out = append(out,
		Stat{"engine_record_cache_bytes", i(cs.Bytes)},
		Stat{"engine_record_cache_entries", i(cs.Entries)},
		Stat{"engine_record_cache_hits", u(cs.Hits)},
		Stat{"engine_record_cache_misses", u(cs.Misses)},
		Stat{"engine_record_cache_evictions", u(cs.Evictions)},
	)
	return append(out, e.st.Stats()...)
}

// countRecords rebuilds curr_items and bytes by scanning the data range,
// once at open; from then on writes and the reaper keep them current.
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
	return err
}
