package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/dynamo-kv/dynamo/engine/check"
	"github.com/dynamo-kv/dynamo/engine/kv"
)

// recorder collects the history; every client appends under its lock.
type recorder struct {
	mu       sync.Mutex
	hist     check.History
	requests int // requests sent to a running node
	refused  int // requests not sent: the chosen node was down
	failed   int // requests sent that did not succeed
}

func (r *recorder) count(err error) {
	r.mu.Lock()
	r.requests++
	if err != nil {
		r.failed++
	}
	r.mu.Unlock()
}

// outcomeOf classifies what a client learnt. A write the coordinator
// could not get W acknowledgements for failed (it may still appear); a
// forward whose answer was lost, and anything else, is unknown.
func outcomeOf(err error) check.Outcome {
	switch {
	case err == nil:
		return check.OK
	case errors.Is(err, kv.ErrUnavailable) && !strings.Contains(err.Error(), "outcome unknown"):
		return check.Failed
	}
	return check.Unknown
}

// client is one client's view of the cluster: it picks a node per
// request and knows whether the node crashed while it waited.
type client struct {
	c    *Cluster
	rng  *rand.Rand
	rec  *recorder
	last int // the node of the last request
}

// pick chooses a random node of those that have run for a request: its
// KV and epoch, or ok false (counted as refused: nothing is sent) while
// it is down.
func (cl *client) pick() (i int, k kv.KV, epoch int, ok bool) {
	live := cl.c.live()
	i = live[cl.rng.IntN(len(live))]
	cl.last = i
	k, epoch, ok = cl.c.kv(i)
	if !ok {
		cl.rec.mu.Lock()
		cl.rec.refused++
		cl.rec.mu.Unlock()
	}
	return i, k, epoch, ok
}

// outcome counts a request sent to node i at epoch and classifies it. A
// node that stopped while the request waited makes the outcome unknown,
// whatever it answered: the answer may come from a node whose disk no
// longer holds it.
func (cl *client) outcome(i, epoch int, err error) check.Outcome {
	cl.rec.count(err)
	if cl.c.epoch(i) != epoch {
		return check.Unknown
	}
	return outcomeOf(err)
}

// call runs fn on a random running node; sent is false when the node
// chosen was down.
func (cl *client) call(fn func(k kv.KV) error) (o check.Outcome, sent bool) {
	i, k, epoch, ok := cl.pick()
	if !ok {
		return check.Unknown, false
	}
	return cl.outcome(i, epoch, fn(k)), true
}

func registerKey(client, k int) string { return fmt.Sprintf("reg%d-%d", client, k) }
func counterKey(k int) string          { return fmt.Sprintf("ctr%d", k) }
func setKey(k int) string              { return fmt.Sprintf("set%d", k) }

// runWorkload runs every client until ctx ends.
func runWorkload(ctx context.Context, c *Cluster, w Workload, rec *recorder) {
	var wg sync.WaitGroup
	spawn := func(id int, fn func(cl *client)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(&client{c: c, rng: rand.New(rand.NewPCG(c.sc.Seed, uint64(id))), rec: rec})
		}()
	}
	for id := range w.RegisterClients {
		spawn(id, func(cl *client) { registerClient(ctx, cl, w, id) })
	}
	for id := range w.CounterClients {
		spawn(1000+id, func(cl *client) { counterClient(ctx, cl, w) })
	}
	for id := range w.SetClients {
		spawn(2000+id, func(cl *client) { setClient(ctx, cl, w, id) })
	}
	wg.Wait()
}

// registerClient owns its keys and writes each in sequence through
// random nodes, as memcached clients do: sets, sets with a TTL, deletes
// and reads. A third of the deletes leave their key alone for 2 to 5 s,
// so that new writes meet tombstones about to be reaped.
func registerClient(ctx context.Context, cl *client, w Workload, id int) {
	seq := map[string]int{}
	dormant := map[string]time.Time{}
	var obj kv.Object
	for ctx.Err() == nil {
		key := registerKey(id, cl.rng.IntN(w.KeysPerClient))
		if time.Now().Before(dormant[key]) {
			pause(ctx, w.Pause/4)
			continue
		}
		roll := cl.rng.IntN(100)
		if roll < 25 {
			cl.call(func(k kv.KV) error { return k.Get([]byte(key), &obj, kv.ReadOptions{}) })
			pause(ctx, w.Pause)
			continue
		}
		seq[key]++
		op := check.RegisterOp{Key: key, Seq: seq[key], Start: time.Now()}
		req := kv.PutRequest{SupersedeAll: true}
		switch {
		case roll < 70:
			op.Kind, op.Value = check.Set, fmt.Sprintf("%s.%d", key, seq[key])
		case roll < 85:
			ttl := 1 + cl.rng.IntN(3)
			op.Kind, op.Value = check.Set, fmt.Sprintf("%s.%d.ttl%d", key, seq[key], ttl)
			op.Expires = op.Start.Add(time.Duration(ttl) * time.Second)
			req.Expires = op.Start.Unix() + int64(ttl)
		default:
			op.Kind = check.Delete
			req.Delete = true
			if cl.rng.IntN(3) == 0 {
				dormant[key] = time.Now().Add(time.Duration(2000+cl.rng.IntN(3000)) * time.Millisecond)
			}
		}
		req.Value = []byte(op.Value)
		outcome, sent := cl.call(func(k kv.KV) error {
			_, err := k.Put([]byte(key), &req)
			return err
		})
		if !sent {
			seq[key]--
			pause(ctx, w.Pause)
			continue
		}
		op.End, op.Outcome, op.Node = time.Now(), outcome, cl.c.nodes[cl.last].id
		cl.rec.mu.Lock()
		cl.rec.hist.Registers = append(cl.rec.hist.Registers, op)
		cl.rec.mu.Unlock()
		pause(ctx, w.Pause)
	}
}

// counterClient increments shared counters through random nodes.
func counterClient(ctx context.Context, cl *client, w Workload) {
	for ctx.Err() == nil {
		key := counterKey(cl.rng.IntN(w.Counters))
		delta := uint64(1 + cl.rng.IntN(5))
		var res kv.PutResult
		start := time.Now()
		outcome, sent := cl.call(func(k kv.KV) error {
			var err error
			res, err = k.Put([]byte(key), &kv.PutRequest{Arith: &kv.Arith{Delta: delta}})
			return err
		})
		if sent {
			cl.rec.mu.Lock()
			cl.rec.hist.Counters = append(cl.rec.hist.Counters, check.CounterOp{Key: key, Delta: delta, Outcome: outcome, Result: res.Number,
				Node: cl.c.nodes[cl.last].id, Start: start, End: time.Now()})
			cl.rec.mu.Unlock()
		}
		pause(ctx, w.Pause)
	}
}

// setClient adds elements to shared sets by read-merge-write with
// contexts: read the siblings, write their union plus one element with
// the context read. Now and then it adds a second element at once with
// the context the write returned.
func setClient(ctx context.Context, cl *client, w Workload, id int) {
	n := 0
	var obj kv.Object
	for ctx.Err() == nil {
		key := setKey(cl.rng.IntN(w.Sets))
		i, k, epoch, up := cl.pick()
		if !up {
			pause(ctx, w.Pause)
			continue
		}
		err := k.Get([]byte(key), &obj, kv.ReadOptions{})
		if cl.outcome(i, epoch, err); err != nil {
			pause(ctx, w.Pause)
			continue
		}
		union := map[string]bool{}
		for _, s := range obj.Siblings {
			if !s.Deleted {
				for _, e := range check.SplitElements(string(s.Value)) {
					union[e] = true
				}
			}
		}
		add := func(vctx []byte) ([]byte, error) {
			n++
			e := fmt.Sprintf("c%de%d", id, n)
			union[e] = true
			start := time.Now()
			res, err := k.Put([]byte(key), &kv.PutRequest{Value: []byte(check.JoinElements(union)), Context: vctx})
			op := check.ElementOp{Key: key, Element: e, Outcome: cl.outcome(i, epoch, err), Node: cl.c.nodes[i].id, Start: start, End: time.Now()}
			cl.rec.mu.Lock()
			cl.rec.hist.Elements = append(cl.rec.hist.Elements, op)
			cl.rec.mu.Unlock()
			return res.Context, err
		}
		next, err := add(append([]byte(nil), obj.Context...))
		if err == nil && cl.rng.IntN(3) == 0 {
			pause(ctx, w.Pause)
			_, _ = add(next)
		}
		pause(ctx, w.Pause)
	}
}

func pause(ctx context.Context, d time.Duration) { sleepUntil(ctx, time.Now().Add(d)) }

// allKeys lists every key the workload touches.
func allKeys(w Workload) []string {
	var keys []string
	for id := range w.RegisterClients {
		for k := range w.KeysPerClient {
			keys = append(keys, registerKey(id, k))
		}
	}
	for k := range w.Counters {
		keys = append(keys, counterKey(k))
	}
	for k := range w.Sets {
		keys = append(keys, setKey(k))
	}
	return keys
}
