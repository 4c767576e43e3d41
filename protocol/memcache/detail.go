package memcache

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Per-prefix statistics, memcached's "stats detail": while on, each get
// (and its hit), storage command and delete of a key that holds the
// delimiter ':' is counted under the part before it; "stats detail dump"
// lists them, "stats reset" clears them, and turning it off keeps what was
// counted. A key without the delimiter is not counted, as memcached does.
// Off by default: counting takes a lock per command.

const (
	prefixDelimiter = ':'
	// maxPrefixes bounds the table: a workload of unique prefixes would
	// otherwise grow it without end (memcached's does). Prefixes past it
	// are not counted.
	maxPrefixes = 1 << 16
)

type prefixCounts struct{ get, hit, set, del uint64 }

type prefixStats struct {
	on atomic.Bool
	mu sync.Mutex
	m  map[string]*prefixCounts
}

// record counts one command of a key under its prefix, when on.
func (p *prefixStats) record(key []byte, count func(*prefixCounts)) {
	if !p.on.Load() {
		return
	}
	i := bytes.IndexByte(key, prefixDelimiter)
	if i < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.m[string(key[:i])]
	if c == nil {
		if p.m == nil {
			p.m = map[string]*prefixCounts{}
		}
		if len(p.m) >= maxPrefixes {
			return
		}
		c = &prefixCounts{}
		p.m[string(key[:i])] = c
	}
	count(c)
}

func (p *prefixStats) get(key []byte, hit bool) {
	p.record(key, func(c *prefixCounts) {
		c.get++
		if hit {
			c.hit++
		}
	})
}

func (p *prefixStats) set(key []byte) { p.record(key, func(c *prefixCounts) { c.set++ }) }
func (p *prefixStats) del(key []byte) { p.record(key, func(c *prefixCounts) { c.del++ }) }

func (p *prefixStats) reset() {
	p.mu.Lock()
	p.m = nil
	p.mu.Unlock()
}

// dump appends memcached's "PREFIX ..." lines, by prefix, and END.
func (p *prefixStats) dump(out []byte) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.m))
	for k := range p.m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		c := p.m[k]
		out = fmt.Appendf(out, "PREFIX %s get %d hit %d set %d del %d\r\n", k, c.get, c.hit, c.set, c.del)
	}
	return append(out, "END\r\n"...)
}

// detailCommand serves "stats detail on|off|dump".
func (e *Executor) detailCommand(arg []byte, out []byte) []byte {
	switch string(arg) {
	case "on":
		e.detail.on.Store(true)
		return append(out, "OK\r\n"...)
	case "off":
		e.detail.on.Store(false)
		return append(out, "OK\r\n"...)
	case "dump":
		return e.detail.dump(out)
	}
	return append(out, errStatsUsage+"\r\n"...)
}
