package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Probes run on the healthy cluster before any fault: small, exact
// checks of what conditional commands and contexts promise whenever
// every node is up. Each returns how many times the promise broke, and
// a description of the first break.

type probeResult struct {
	name      string
	anomalies int
	first     string
}

func (p *probeResult) fail(format string, args ...any) {
	if p.anomalies == 0 {
		p.first = fmt.Sprintf(format, args...)
	}
	p.anomalies++
}

// probeConn opens a connection to node i or fails the probe.
func probeConn(ctx context.Context, c *cluster, i int) (*mcConn, error) {
	return dialMC(ctx, c.nw.dial, c.nodes[i].clientAddr(), 10*time.Second)
}

func runProbes(ctx context.Context, c *cluster) []probeResult {
	var out []probeResult
	for _, p := range []func(context.Context, *cluster) probeResult{
		probeIncrRace, probeAddRace, probeStaleCAS, probeContext, probeTouchKeepsCAS, probeDistinctCAS,
	} {
		out = append(out, p(ctx, c))
	}
	return out
}

// node picks the i-th node, wrapping, so probes work with any cluster size.
func (c *cluster) nodeIdx(i int) int { return i % len(c.nodes) }

// probeIncrRace: two clients, each 100 incr through a different node at
// once: the counter must end at 200 and no result may repeat.
func probeIncrRace(ctx context.Context, c *cluster) probeResult {
	p := probeResult{name: "concurrent incr through two nodes"}
	m0, err := probeConn(ctx, c, 0)
	if err != nil {
		p.fail("dial: %v", err)
		return p
	}
	defer m0.Close()
	if err := m0.Set("probe-incr", "0", 0); err != nil {
		p.fail("set: %v", err)
		return p
	}
	var mu sync.Mutex
	var results []uint64
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := probeConn(ctx, c, c.nodeIdx(w))
			if err != nil {
				mu.Lock()
				p.fail("dial: %v", err)
				mu.Unlock()
				return
			}
			defer m.Close()
			for range 100 {
				v, err := m.Incr("probe-incr", 1)
				mu.Lock()
				if err != nil {
					p.fail("incr through n%d: %v", c.nodeIdx(w)+1, err)
				} else {
					results = append(results, v)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(results)
	for i := 1; i < len(results); i++ {
		if results[i] == results[i-1] {
			p.fail("two incrs were both told %d", results[i])
		}
	}
	m2, err := probeConn(ctx, c, c.nodeIdx(2))
	if err != nil {
		p.fail("dial: %v", err)
		return p
	}
	defer m2.Close()
	v, ok, err := m2.Get("probe-incr")
	n, _ := strconv.ParseUint(v, 10, 64)
	if err != nil || !ok || n != 200 {
		p.fail("counter ends at %q (found %v, %v) after 200 incrs", v, ok, err)
	}
	return p
}

// probeAddRace: two adds of a new key through two nodes at once; exactly
// one may be stored.
func probeAddRace(ctx context.Context, c *cluster) probeResult {
	p := probeResult{name: "concurrent add through two nodes"}
	ms := make([]*mcConn, 2)
	for w := range ms {
		m, err := probeConn(ctx, c, c.nodeIdx(w))
		if err != nil {
			p.fail("dial: %v", err)
			return p
		}
		defer m.Close()
		ms[w] = m
	}
	for round := range 30 {
		key := fmt.Sprintf("probe-add-%d", round)
		var stored [2]bool
		var errs [2]error
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := ms[w].store("add", key, fmt.Sprintf("w%d", w), 0, 0)
				stored[w], errs[w] = err == nil && l == "STORED", err
			}()
		}
		wg.Wait()
		switch {
		case errs[0] != nil || errs[1] != nil:
			p.fail("round %d: %v / %v", round, errs[0], errs[1])
		case stored[0] && stored[1]:
			p.fail("round %d: both adds of %s were STORED", round, key)
		case !stored[0] && !stored[1]:
			p.fail("round %d: neither add of %s was stored", round, key)
		}
	}
	return p
}

// probeStaleCAS: gets through one node, a set through another, then a
// cas with the old token through a third must answer EXISTS.
func probeStaleCAS(ctx context.Context, c *cluster) probeResult {
	p := probeResult{name: "cas with a stale token after a set elsewhere"}
	var ms [3]*mcConn
	for w := range ms {
		m, err := probeConn(ctx, c, c.nodeIdx(w))
		if err != nil {
			p.fail("dial: %v", err)
			return p
		}
		defer m.Close()
		ms[w] = m
	}
	for round := range 30 {
		key := fmt.Sprintf("probe-cas-%d", round)
		if err := ms[0].Set(key, "v0", 0); err != nil {
			p.fail("set: %v", err)
			continue
		}
		_, cas, ok, err := ms[0].Gets(key)
		if err != nil || !ok {
			p.fail("gets: %v %v", ok, err)
			continue
		}
		if err := ms[2].Set(key, "v1", 0); err != nil {
			p.fail("set: %v", err)
			continue
		}
		l, err := ms[1].store("cas", key, "v2", 0, cas)
		if err != nil || l != "EXISTS" {
			p.fail("round %d: stale cas answered %q (%v), want EXISTS", round, l, err)
		}
	}
	return p
}

// probeContext: the context putv returns names only what the writer saw
// and its own write. Y reads A (c0); X writes B with c0; Y writes C with
// c0 and gets c1; Y writes C2 with c1: B must survive, as a sibling.
func probeContext(ctx context.Context, c *cluster) probeResult {
	p := probeResult{name: "putv's context covers only what its writer saw"}
	y, err := probeConn(ctx, c, 0)
	if err != nil {
		p.fail("dial: %v", err)
		return p
	}
	defer y.Close()
	x, err := probeConn(ctx, c, c.nodeIdx(1))
	if err != nil {
		p.fail("dial: %v", err)
		return p
	}
	defer x.Close()
	for round := range 10 {
		key := fmt.Sprintf("probe-ctx-%d", round)
		if _, err := y.Putv(key, "A", "-"); err != nil {
			p.fail("putv A: %v", err)
			continue
		}
		c0, _, err := y.Getv(key)
		if err != nil {
			p.fail("getv: %v", err)
			continue
		}
		if _, err := x.Putv(key, "B", c0); err != nil {
			p.fail("putv B: %v", err)
			continue
		}
		c1, err := y.Putv(key, "C", c0)
		if err != nil {
			p.fail("putv C: %v", err)
			continue
		}
		if _, err := y.Putv(key, "C2", c1); err != nil {
			p.fail("putv C2: %v", err)
			continue
		}
		_, sibs, err := y.Getv(key)
		if err != nil {
			p.fail("getv: %v", err)
			continue
		}
		var vals []string
		for _, s := range sibs {
			if !s.deleted {
				vals = append(vals, s.data)
			}
		}
		if !slices.Contains(vals, "B") || !slices.Contains(vals, "C2") {
			p.fail("round %d: siblings %q, want B and C2", round, vals)
		}
	}
	return p
}

// probeTouchKeepsCAS: gets, touch, cas with the token from gets must be
// STORED, as in memcached (a touch is not a modification).
func probeTouchKeepsCAS(ctx context.Context, c *cluster) probeResult {
	p := probeResult{name: "touch keeps the cas unique"}
	m, err := probeConn(ctx, c, 0)
	if err != nil {
		p.fail("dial: %v", err)
		return p
	}
	defer m.Close()
	for round := range 10 {
		key := fmt.Sprintf("probe-touch-%d", round)
		if err := m.Set(key, "v", 0); err != nil {
			p.fail("set: %v", err)
			continue
		}
		_, cas, _, err := m.Gets(key)
		if err != nil {
			p.fail("gets: %v", err)
			continue
		}
		if l, err := m.Touch(key, 3600); err != nil || l != "TOUCHED" {
			p.fail("touch: %q %v", l, err)
			continue
		}
		if l, err := m.store("cas", key, "w", 0, cas); err != nil || l != "STORED" {
			p.fail("round %d: cas after touch answered %q (%v), want STORED", round, l, err)
		}
	}
	return p
}

// probeDistinctCAS: two keys written the same way must not share a cas
// unique (memcached's cas uniques are unique across items).
func probeDistinctCAS(ctx context.Context, c *cluster) probeResult {
	p := probeResult{name: "different keys have different cas uniques"}
	m, err := probeConn(ctx, c, 0)
	if err != nil {
		p.fail("dial: %v", err)
		return p
	}
	defer m.Close()
	seen := map[uint64]string{}
	for k := range 20 {
		key := fmt.Sprintf("probe-unique-%d", k)
		if err := m.Set(key, "same", 0); err != nil {
			p.fail("set: %v", err)
			continue
		}
		_, cas, _, err := m.Gets(key)
		if err != nil {
			p.fail("gets: %v", err)
			continue
		}
		if other, dup := seen[cas]; dup {
			p.fail("%s and %s share cas %d", other, key, cas)
		}
		seen[cas] = key
	}
	return p
}
