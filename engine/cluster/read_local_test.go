package cluster

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/kv"
)

// gatedStorage is an in-memory engine.Storage whose reads of keys that
// contain gate wait while it is held: a local read stuck on the disk.
type gatedStorage struct {
	mu   sync.Mutex
	m    map[string][]byte
	gate string
	held chan struct{} // nil: not held; closed: released
}

func newGatedStorage(gate string) *gatedStorage {
	return &gatedStorage{m: map[string][]byte{}, gate: gate}
}

// hold makes reads of the gated keys wait until the channel it returns
// is closed.
func (g *gatedStorage) hold() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = make(chan struct{})
	return g.held
}

func (g *gatedStorage) Get(key, dst []byte) ([]byte, bool, error) {
	g.mu.Lock()
	held := g.held
	g.mu.Unlock()
	if held != nil && bytes.Contains(key, []byte(g.gate)) {
		<-held
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.m[string(key)]
	return append(dst, v...), ok, nil
}

func (g *gatedStorage) Set(key, value []byte, _ kv.Durability) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m[string(key)] = bytes.Clone(value)
	return nil
}

func (g *gatedStorage) Delete(key []byte, _ kv.Durability) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, string(key))
	return nil
}

func (g *gatedStorage) Flush() error { return nil }

func (g *gatedStorage) Scan(lo, hi []byte, fn func(key, value []byte) bool) error {
	g.mu.Lock()
	var keys []string
	for k := range g.m {
		if k >= string(lo) && (hi == nil || k < string(hi)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = g.m[k]
	}
	g.mu.Unlock()
	for i, k := range keys {
		if !fn([]byte(k), vals[i]) {
			return nil
		}
	}
	return nil
}

func (g *gatedStorage) Stats() []kv.Stat { return nil }
func (g *gatedStorage) Close() error     { return nil }

// A read whose other replicas alone make R does not wait for the
// coordinator's own copy: one slow local read (in a bench-join trace, a
// block-cache miss whose allocation sat 413 ms in calloc) held replies
// that had already made R=2, read inline between asking the replicas
// and taking their answers.
func TestSlowLocalReadDoesNotHoldRepliesThatMakeR(t *testing.T) {
	const key = "slow-local-read"
	var gated *gatedStorage
	c := newTestClusterWith(t, 3, 64, Options{N: 3, R: 2, W: 3}, func(i int) engine.Storage {
		if i != 0 {
			return nil
		}
		gated = newGatedStorage(key)
		return gated
	})
	coord := c.nodes[0]
	if _, err := c.nodes[1].put(t, key, set("v")); err != nil {
		t.Fatal(err)
	}
	// W=3: the coordinator's copy is in; its reads now wait at the gate,
	// which opens only after the read has answered (or the test's end).
	release := gated.hold()
	var once sync.Once
	var waited atomic.Bool
	open := func() { once.Do(func() { close(release) }) }
	// Without the fix the read waits here for good: the gate opens after
	// 10 s and the test fails instead of hanging.
	defer time.AfterFunc(10*time.Second, func() { waited.Store(true); open() }).Stop()
	o, err := coord.get(t, key)
	open()
	if waited.Load() {
		t.Fatal("the read waited for the coordinator's own copy, with two replicas' replies in")
	}
	if err != nil || !values(o)["v"] {
		t.Fatalf("read with the coordinator's own copy stuck: %v %v, want v from the other two", values(o), err)
	}
}
