package memcache

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// ServerStats are the process and connection figures "stats" reports. The
// server fills them; the executor only formats them.
type ServerStats struct {
	PID          int
	PointerSize  int
	RusageUser   time.Duration
	RusageSystem time.Duration

	MaxConnections       int64
	CurrConnections      int64
	TotalConnections     int64
	RejectedConnections  int64
	ConnectionStructures int64

	IdleTimeout bool // report idle_kicks, as memcached does only with -o idle_timeout
	IdleKicks   uint64

	BytesRead      uint64
	BytesWritten   uint64
	Threads        int
	AcceptingConns bool
}

// ServerInfo supplies ServerStats; the server implements it.
type ServerInfo interface {
	ServerStats() ServerStats
}

// counters are the memcached command counters. They are shared by every
// connection of an executor and updated atomically.
type counters struct {
	cmdGet, cmdSet, cmdFlush, cmdTouch, cmdMeta atomic.Uint64
	getHits, getMisses                          atomic.Uint64
	deleteMisses, deleteHits                    atomic.Uint64
	incrMisses, incrHits, decrMisses, decrHits  atomic.Uint64
	casMisses, casHits, casBadval               atomic.Uint64
	touchHits, touchMisses                      atomic.Uint64
	storeTooLarge                               atomic.Uint64
	totalItems                                  atomic.Uint64
}

func (c *counters) reset() {
	for _, v := range []*atomic.Uint64{
		&c.cmdGet, &c.cmdSet, &c.cmdFlush, &c.cmdTouch, &c.cmdMeta,
		&c.getHits, &c.getMisses, &c.deleteMisses, &c.deleteHits,
		&c.incrMisses, &c.incrHits, &c.decrMisses, &c.decrHits,
		&c.casMisses, &c.casHits, &c.casBadval, &c.touchHits, &c.touchMisses,
		&c.storeTooLarge, &c.totalItems,
	} {
		v.Store(0)
	}
}

type statWriter []byte

func (w *statWriter) str(name, value string) {
	*w = append(*w, "STAT "...)
	*w = append(*w, name...)
	*w = append(*w, ' ')
	*w = append(*w, value...)
	*w = append(*w, "\r\n"...)
}

func (w *statWriter) uint(name string, v uint64) { w.str(name, strconv.FormatUint(v, 10)) }
func (w *statWriter) int(name string, v int64)   { w.str(name, strconv.FormatInt(v, 10)) }

func (w *statWriter) duration(name string, d time.Duration) {
	us := d.Microseconds()
	w.str(name, strconv.FormatInt(us/1e6, 10)+"."+pad6(us%1e6))
}

func pad6(v int64) string {
	s := strconv.FormatInt(v, 10)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}

// appendGeneralStats writes "stats" in memcached 1.6.18's order: server
// figures, command counters, then the item figures from the engine (its
// curr_items and bytes in memcached's places, every other engine line after
// them).
func (e *Executor) appendGeneralStats(out []byte, now time.Time) []byte {
	var srv ServerStats
	if e.opts.Server != nil {
		srv = e.opts.Server.ServerStats()
	}
	w := statWriter(out)
	w.int("pid", int64(srv.PID))
	w.int("uptime", int64(now.Sub(e.started)/time.Second))
	w.int("time", now.Unix())
	w.str("version", e.opts.Version)
	w.int("pointer_size", int64(srv.PointerSize))
	w.duration("rusage_user", srv.RusageUser)
	w.duration("rusage_system", srv.RusageSystem)
	w.int("max_connections", srv.MaxConnections)
	w.int("curr_connections", srv.CurrConnections)
	w.int("total_connections", srv.TotalConnections)
	w.int("rejected_connections", srv.RejectedConnections)
	w.int("connection_structures", srv.ConnectionStructures)
	c := &e.stats
	w.uint("cmd_get", c.cmdGet.Load())
	w.uint("cmd_set", c.cmdSet.Load())
	w.uint("cmd_flush", c.cmdFlush.Load())
	w.uint("cmd_touch", c.cmdTouch.Load())
	w.uint("cmd_meta", c.cmdMeta.Load())
	w.uint("get_hits", c.getHits.Load())
	w.uint("get_misses", c.getMisses.Load())
	w.uint("get_expired", 0)
	w.uint("get_flushed", 0)
	w.uint("delete_misses", c.deleteMisses.Load())
	w.uint("delete_hits", c.deleteHits.Load())
	w.uint("incr_misses", c.incrMisses.Load())
	w.uint("incr_hits", c.incrHits.Load())
	w.uint("decr_misses", c.decrMisses.Load())
	w.uint("decr_hits", c.decrHits.Load())
	w.uint("cas_misses", c.casMisses.Load())
	w.uint("cas_hits", c.casHits.Load())
	w.uint("cas_badval", c.casBadval.Load())
	w.uint("touch_hits", c.touchHits.Load())
	w.uint("touch_misses", c.touchMisses.Load())
	w.uint("store_too_large", c.storeTooLarge.Load())
	w.uint("store_no_memory", 0)
	if srv.IdleTimeout {
		w.uint("idle_kicks", srv.IdleKicks)
	}
	w.uint("bytes_read", srv.BytesRead)
	w.uint("bytes_written", srv.BytesWritten)
	engineStats := e.kv.Stats()
	w.str("limit_maxbytes", statValue(engineStats, "limit_maxbytes"))
	accepting := "0"
	if srv.AcceptingConns {
		accepting = "1"
	}
	w.str("accepting_conns", accepting)
	w.int("threads", int64(srv.Threads))
	w.str("bytes", statValue(engineStats, "bytes"))
	w.str("curr_items", statValue(engineStats, "curr_items"))
	w.uint("total_items", c.totalItems.Load())
	w.str("evictions", statValue(engineStats, "evictions"))
	for _, s := range engineStats {
		switch s.Name {
		case "bytes", "curr_items", "limit_maxbytes", "evictions":
			continue
		}
		w.str(s.Name, s.Value)
	}
	return append(w, "END\r\n"...)
}

func statValue(stats []kv.Stat, name string) string {
	for _, s := range stats {
		if s.Name == name {
			return s.Value
		}
	}
	return "0"
}

// appendSettingsStats writes the "stats settings" lines that have a true
// value here.
func (e *Executor) appendSettingsStats(out []byte) []byte {
	var srv ServerStats
	if e.opts.Server != nil {
		srv = e.opts.Server.ServerStats()
	}
	w := statWriter(out)
	w.str("maxbytes", statValue(e.kv.Stats(), "limit_maxbytes"))
	w.int("maxconns", srv.MaxConnections)
	w.str("evictions", "off")
	w.int("num_threads", int64(srv.Threads))
	w.str("cas_enabled", "yes")
	w.str("binding_protocol", "ascii")
	w.int("item_size_max", int64(e.opts.MaxItemSize))
	w.str("flush_enabled", "yes")
	return append(w, "END\r\n"...)
}
