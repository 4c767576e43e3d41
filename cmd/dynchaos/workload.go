package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/engine/check"
)

// workloadConfig sizes the clients.
type workloadConfig struct {
	RegisterClients, KeysPerClient int
	CounterClients, Counters       int
	SetClients, Sets               int
	Pause                          time.Duration // between one client's requests
	Timeout                        time.Duration // per request
}

func defaultWorkload() workloadConfig {
	return workloadConfig{
		RegisterClients: 6, KeysPerClient: 16,
		CounterClients: 3, Counters: 4,
		SetClients: 3, Sets: 6,
		Pause: 10 * time.Millisecond, Timeout: 2 * time.Second,
	}
}

// request is one request's fate, for availability.
type request struct {
	at      time.Time
	node    int
	outcome check.Outcome
}

// recorder collects the history; every client appends under its lock.
type recorder struct {
	mu   sync.Mutex
	hist check.History
	reqs []request
}

func (r *recorder) request(at time.Time, node int, err error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, request{at, node, outcomeOf(err)})
	r.mu.Unlock()
}

// conns is one client's connections, one per node, redialled after any
// failure that may have left a connection out of step.
type conns struct {
	c       *cluster
	timeout time.Duration
	open    map[int]*mcConn
}

func (cs *conns) get(ctx context.Context, i int) (*mcConn, error) {
	if m := cs.open[i]; m != nil {
		return m, nil
	}
	dctx, cancel := context.WithTimeout(ctx, cs.timeout)
	defer cancel()
	m, err := dialMC(dctx, cs.c.nw.dial, cs.c.nodes[i].clientAddr(), cs.timeout)
	if err != nil {
		return nil, err
	}
	cs.open[i] = m
	return m, nil
}

// done drops the connection after an error that was not the server's
// answer (a timeout leaves a reply in flight).
func (cs *conns) done(i int, err error) {
	var se *serverError
	if err != nil && !errors.As(err, &se) {
		if m := cs.open[i]; m != nil {
			m.Close()
		}
		delete(cs.open, i)
	}
}

func (cs *conns) closeAll() {
	for _, m := range cs.open {
		m.Close()
	}
}

// runWorkload runs every client until ctx ends.
func runWorkload(ctx context.Context, c *cluster, cfg workloadConfig, seed uint64, rec *recorder) {
	var wg sync.WaitGroup
	spawn := func(id int, fn func(ctx context.Context, rng *rand.Rand, cs *conns)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs := &conns{c: c, timeout: cfg.Timeout, open: map[int]*mcConn{}}
			defer cs.closeAll()
			fn(ctx, rand.New(rand.NewPCG(seed, uint64(id))), cs)
		}()
	}
	for id := range cfg.RegisterClients {
		spawn(id, func(ctx context.Context, rng *rand.Rand, cs *conns) { registerClient(ctx, rng, cs, cfg, id, rec) })
	}
	for id := range cfg.CounterClients {
		spawn(1000+id, func(ctx context.Context, rng *rand.Rand, cs *conns) { counterClient(ctx, rng, cs, cfg, rec) })
	}
	for id := range cfg.SetClients {
		spawn(2000+id, func(ctx context.Context, rng *rand.Rand, cs *conns) { setClient(ctx, rng, cs, cfg, id, rec) })
	}
	wg.Wait()
}

func registerKey(client, k int) string { return fmt.Sprintf("reg%d-%d", client, k) }
func counterKey(k int) string          { return fmt.Sprintf("ctr%d", k) }
func setKey(k int) string              { return fmt.Sprintf("set%d", k) }

// registerClient owns its keys and writes each of them in sequence
// through random nodes: sets, sets with a TTL, deletes, and reads (whose
// answers only count toward availability). A third of the deletes leave
// their key alone for 2 to 5 s before it is written again, so that new
// writes meet tombstones about to be reaped (-tombstone-ttl 3s).
func registerClient(ctx context.Context, rng *rand.Rand, cs *conns, cfg workloadConfig, id int, rec *recorder) {
	seq := map[string]int{}
	dormant := map[string]time.Time{}
	for ctx.Err() == nil {
		key := registerKey(id, rng.IntN(cfg.KeysPerClient))
		if time.Now().Before(dormant[key]) {
			pause(ctx, cfg.Pause/4)
			continue
		}
		node := rng.IntN(len(cs.c.nodes))
		roll := rng.IntN(100)
		m, err := cs.get(ctx, node)
		start := time.Now()
		if err != nil {
			rec.request(start, node, err)
			pause(ctx, cfg.Pause)
			continue
		}
		if roll < 25 {
			_, _, err = m.Get(key)
			rec.request(start, node, err)
			cs.done(node, err)
			pause(ctx, cfg.Pause)
			continue
		}
		seq[key]++
		op := check.RegisterOp{Key: key, Seq: seq[key], Start: start}
		switch {
		case roll < 70:
			op.Kind, op.Value = check.Set, fmt.Sprintf("%s.%d", key, seq[key])
			err = m.Set(key, op.Value, 0)
		case roll < 85:
			ttl := 1 + rng.IntN(3)
			op.Kind, op.Value, op.Expires = check.Set, fmt.Sprintf("%s.%d.ttl%d", key, seq[key], ttl), start.Add(time.Duration(ttl)*time.Second)
			err = m.Set(key, op.Value, ttl)
		default:
			op.Kind = check.Delete
			_, err = m.Delete(key) // DELETED and NOT_FOUND both leave the key deleted
			if rng.IntN(3) == 0 {
				dormant[key] = time.Now().Add(time.Duration(2000+rng.IntN(3000)) * time.Millisecond)
			}
		}
		op.End, op.Outcome = time.Now(), outcomeOf(err)
		rec.mu.Lock()
		rec.hist.Registers = append(rec.hist.Registers, op)
		rec.reqs = append(rec.reqs, request{start, node, op.Outcome})
		rec.mu.Unlock()
		cs.done(node, err)
		pause(ctx, cfg.Pause)
	}
}

// counterClient increments shared counters through random nodes.
func counterClient(ctx context.Context, rng *rand.Rand, cs *conns, cfg workloadConfig, rec *recorder) {
	for ctx.Err() == nil {
		key := counterKey(rng.IntN(cfg.Counters))
		node := rng.IntN(len(cs.c.nodes))
		delta := uint64(1 + rng.IntN(5))
		start := time.Now()
		m, err := cs.get(ctx, node)
		if err != nil {
			rec.request(start, node, err) // never sent
			pause(ctx, cfg.Pause)
			continue
		}
		v, err := m.Incr(key, delta)
		cs.done(node, err)
		op := check.CounterOp{Key: key, Delta: delta, Outcome: outcomeOf(err), Result: v}
		rec.mu.Lock()
		rec.hist.Counters = append(rec.hist.Counters, op)
		rec.reqs = append(rec.reqs, request{start, node, op.Outcome})
		rec.mu.Unlock()
		pause(ctx, cfg.Pause)
	}
}

// setClient adds elements to shared sets by read-merge-write: getv, the
// union of the live siblings, putv with the context read. Now and then it
// adds a second element at once with the context putv returned, as a
// client that trusts that context to name only what it wrote would.
func setClient(ctx context.Context, rng *rand.Rand, cs *conns, cfg workloadConfig, id int, rec *recorder) {
	n := 0
	for ctx.Err() == nil {
		key := setKey(rng.IntN(cfg.Sets))
		node := rng.IntN(len(cs.c.nodes))
		start := time.Now()
		m, err := cs.get(ctx, node)
		if err != nil {
			rec.request(start, node, err)
			pause(ctx, cfg.Pause)
			continue
		}
		vctx, sibs, err := m.Getv(key)
		rec.request(start, node, err)
		if err != nil {
			cs.done(node, err)
			pause(ctx, cfg.Pause)
			continue
		}
		union := map[string]bool{}
		for _, s := range sibs {
			if !s.deleted {
				for _, e := range check.SplitElements(s.data) {
					union[e] = true
				}
			}
		}
		add := func(vctx string) (string, error) {
			n++
			e := fmt.Sprintf("c%de%d", id, n)
			union[e] = true
			at := time.Now()
			next, err := m.Putv(key, check.JoinElements(union), vctx)
			op := check.ElementOp{Key: key, Element: e, Outcome: outcomeOf(err)}
			rec.mu.Lock()
			rec.hist.Elements = append(rec.hist.Elements, op)
			rec.reqs = append(rec.reqs, request{at, node, op.Outcome})
			rec.mu.Unlock()
			cs.done(node, err)
			return next, err
		}
		next, err := add(vctx)
		if err == nil && rng.IntN(3) == 0 {
			pause(ctx, cfg.Pause)
			_, _ = add(next)
		}
		pause(ctx, cfg.Pause)
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// allKeys lists every key the workload touches.
func allKeys(cfg workloadConfig) (registers, counters, sets []string) {
	for id := range cfg.RegisterClients {
		for k := range cfg.KeysPerClient {
			registers = append(registers, registerKey(id, k))
		}
	}
	for k := range cfg.Counters {
		counters = append(counters, counterKey(k))
	}
	for k := range cfg.Sets {
		sets = append(sets, setKey(k))
	}
	return registers, counters, sets
}

// finalReads reads every key through every node: a classic get and a
// getv, as the checker wants them.
func finalReads(ctx context.Context, c *cluster, cfg workloadConfig) []check.Observation {
	registers, counters, sets := allKeys(cfg)
	keys := append(append(append([]string(nil), registers...), counters...), sets...)
	var out []check.Observation
	for i, n := range c.nodes {
		m, err := dialMC(ctx, c.nw.dial, n.clientAddr(), 5*time.Second)
		for _, key := range keys {
			o := check.Observation{Node: n.id, Key: key}
			if err != nil {
				o.Err = err.Error()
				out = append(out, o)
				continue
			}
			o.At = time.Now()
			var gerr error
			o.Value, o.Found, gerr = m.Get(key)
			_, sibs, verr := m.Getv(key)
			if e := errors.Join(gerr, verr); e != nil {
				o.Err = e.Error()
				var se *serverError
				if !errors.As(e, &se) {
					m.Close()
					m, err = dialMC(ctx, c.nw.dial, n.clientAddr(), 5*time.Second)
				}
			}
			for _, s := range sibs {
				if !s.deleted {
					o.Siblings = append(o.Siblings, s.data)
				}
			}
			out = append(out, o)
		}
		if m != nil {
			m.Close()
		}
		_ = i
	}
	return out
}
