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

	TLS                bool // the port speaks TLS: report ssl_* as memcached -Z does
	TLSVerifyClients   bool // clients must present a certificate the CA signed
	TLSHandshakeErrors uint64
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
	authCmds, authErrors                        atomic.Uint64
}

func (c *counters) reset() {
	for _, v := range []*atomic.Uint64{
		&c.cmdGet, &c.cmdSet, &c.cmdFlush, &c.cmdTouch, &c.cmdMeta,
		&c.getHits, &c.getMisses, &c.deleteMisses, &c.deleteHits,
		&c.incrMisses, &c.incrHits, &c.decrMisses, &c.decrHits,
		&c.casMisses, &c.casHits, &c.casBadval, &c.touchHits, &c.touchMisses,
		&c.storeTooLarge, &c.totalItems, &c.authCmds, &c.authErrors,
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

func pad6(v int64) string {
	s := strconv.FormatInt(v, 10)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}

// appendGeneralStats writes "stats" (see Stats).
func (e *Executor) appendGeneralStats(out []byte, now time.Time) []byte {
	w := statWriter(out)
	for _, st := range e.generalStats(now) {
		w.str(st.Name, st.Value)
	}
	return append(w, "END\r\n"...)
}

// Stats is what "stats" answers, a line each, in order: the figures a
// metrics exporter reads (package protocol/metrics).
func (e *Executor) Stats() []kv.Stat { return e.generalStats(e.opts.Now()) }

// generalStats lists "stats" in memcached 1.6.18's order: server figures,
// command counters, then the item figures from the engine (its curr_items
// and bytes in memcached's places, every other engine line after them).
func (e *Executor) generalStats(now time.Time) []kv.Stat {
	var srv ServerStats
	if e.opts.Server != nil {
		srv = e.opts.Server.ServerStats()
	}
	engineStats := e.kv.Stats()
	out := make([]kv.Stat, 0, 48+len(engineStats))
	str := func(name, v string) { out = append(out, kv.Stat{Name: name, Value: v}) }
	num := func(name string, v int64) { str(name, strconv.FormatInt(v, 10)) }
	unum := func(name string, v uint64) { str(name, strconv.FormatUint(v, 10)) }
	dur := func(name string, d time.Duration) {
		us := d.Microseconds()
		str(name, strconv.FormatInt(us/1e6, 10)+"."+pad6(us%1e6))
	}
	num("pid", int64(srv.PID))
	num("uptime", int64(now.Sub(e.started)/time.Second))
	num("time", now.Unix())
	str("version", e.opts.Version)
	num("pointer_size", int64(srv.PointerSize))
	dur("rusage_user", srv.RusageUser)
	dur("rusage_system", srv.RusageSystem)
	num("max_connections", srv.MaxConnections)
	num("curr_connections", srv.CurrConnections)
	num("total_connections", srv.TotalConnections)
	num("rejected_connections", srv.RejectedConnections)
	num("connection_structures", srv.ConnectionStructures)
	c := &e.stats
	unum("cmd_get", c.cmdGet.Load())
	unum("cmd_set", c.cmdSet.Load())
	unum("cmd_flush", c.cmdFlush.Load())
	unum("cmd_touch", c.cmdTouch.Load())
	unum("cmd_meta", c.cmdMeta.Load())
	unum("get_hits", c.getHits.Load())
	unum("get_misses", c.getMisses.Load())
	unum("get_expired", 0)
	unum("get_flushed", 0)
	unum("delete_misses", c.deleteMisses.Load())
	unum("delete_hits", c.deleteHits.Load())
	unum("incr_misses", c.incrMisses.Load())
	unum("incr_hits", c.incrHits.Load())
	unum("decr_misses", c.decrMisses.Load())
	unum("decr_hits", c.decrHits.Load())
	unum("cas_misses", c.casMisses.Load())
	unum("cas_hits", c.casHits.Load())
	unum("cas_badval", c.casBadval.Load())
	unum("touch_hits", c.touchHits.Load())
	unum("touch_misses", c.touchMisses.Load())
	unum("store_too_large", c.storeTooLarge.Load())
	unum("store_no_memory", 0)
	unum("auth_cmds", c.authCmds.Load())
	unum("auth_errors", c.authErrors.Load())
	if srv.IdleTimeout {
		unum("idle_kicks", srv.IdleKicks)
	}
	unum("bytes_read", srv.BytesRead)
	unum("bytes_written", srv.BytesWritten)
	str("limit_maxbytes", statValue(engineStats, "limit_maxbytes"))
	accepting := "0"
	if srv.AcceptingConns {
		accepting = "1"
	}
	str("accepting_conns", accepting)
	num("threads", int64(srv.Threads))
	str("bytes", statValue(engineStats, "bytes"))
	str("curr_items", statValue(engineStats, "curr_items"))
	unum("total_items", c.totalItems.Load())
	str("evictions", statValue(engineStats, "evictions"))
	if srv.TLS {
		unum("ssl_handshake_errors", srv.TLSHandshakeErrors)
	}
	for _, s := range engineStats {
		switch s.Name {
		case "bytes", "curr_items", "limit_maxbytes", "evictions":
			continue
		}
		out = append(out, s)
	}
	return out
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
	w.str("auth_enabled_sasl", "no")
	ascii := "no"
	if e.opts.Auth != nil {
		ascii = e.opts.Auth.Path()
	}
	w.str("auth_enabled_ascii", ascii)
	w.int("item_size_max", int64(e.opts.MaxItemSize))
	w.str("flush_enabled", "yes")
	if srv.TLS {
		w.str("ssl_enabled", "yes")
		verify := "0" // memcached's ssl_verify_mode: 0 none, 2 require
		if srv.TLSVerifyClients {
			verify = "2"
		}
		w.str("ssl_verify_mode", verify)
		w.str("ssl_min_version", "tlsv1.2")
	} else {
		w.str("ssl_enabled", "no")
	}
	return append(w, "END\r\n"...)
}
