package engine

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/dvv"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/pace"
	"github.com/dynamo-kv/dynamo/engine/record"
)

// testClock is an adjustable wall clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t     *testing.T
	e     *Engine
	st    *memStorage
	clock *testClock
}

func newFixture(t *testing.T, mod ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, st: newMemStorage(), clock: &testClock{t: time.Unix(1_700_000_000, 0)}}
	f.open(mod...)
	return f
}

func (f *fixture) open(mod ...func(*Options)) {
	f.t.Helper()
	opts := Options{Storage: f.st, Now: f.clock.Now, ReapInterval: time.Hour}
	for _, m := range mod {
		m(&opts)
	}
	e, err := Open(opts)
	if err != nil {
		f.t.Fatalf("Open: %v", err)
	}
	f.e = e
	f.t.Cleanup(func() { e.Close() })
}

func (f *fixture) put(key string, req kv.PutRequest) (kv.PutResult, error) {
	f.t.Helper()
	return f.e.Put([]byte(key), &req)
}

func (f *fixture) mustPut(key string, req kv.PutRequest) kv.PutResult {
	f.t.Helper()
	r, err := f.put(key, req)
	if err != nil {
		f.t.Fatalf("Put(%q): %v", key, err)
	}
	return r
}

func (f *fixture) get(key string) *kv.Object {
	f.t.Helper()
	var o kv.Object
	if err := f.e.Get([]byte(key), &o, kv.ReadOptions{}); err != nil {
		f.t.Fatalf("Get(%q): %v", key, err)
	}
	return &o
}

func set(v string) kv.PutRequest { return kv.PutRequest{Value: []byte(v), SupersedeAll: true} }

func values(o *kv.Object) map[string]bool {
	m := map[string]bool{}
	for _, s := range o.Siblings {
		if s.Deleted {
			m["<deleted>"] = true
		} else {
			m[string(s.Value)] = true
		}
	}
	return m
}

func winner(o *kv.Object) string {
	w, ok := o.Winner()
	if !ok {
		return "<miss>"
	}
	return string(w.Value)
}

func TestSetGetAndCAS(t *testing.T) {
	f := newFixture(t)
	if o := f.get("k"); len(o.Siblings) != 0 || o.CAS != 0 {
		t.Fatalf("unwritten key: %+v", o)
	}
	r1 := f.mustPut("k", kv.PutRequest{Value: []byte("v1"), Flags: 42, SupersedeAll: true})
	o := f.get("k")
	if winner(o) != "v1" || o.Siblings[0].Flags != 42 || o.CAS != r1.CAS || o.CAS == 0 {
		t.Fatalf("after set: winner %q flags %d cas %d (put said %d)", winner(o), o.Siblings[0].Flags, o.CAS, r1.CAS)
	}
	r2 := f.mustPut("k", set("v2"))
	if r2.CAS == r1.CAS {
		t.Fatal("CAS did not change with a write")
	}
	if o := f.get("k"); len(o.Siblings) != 1 || winner(o) != "v2" {
		t.Fatalf("set did not supersede: %v", values(o))
	}
}

func TestConcurrentWritesBecomeSiblings(t *testing.T) {
	f := newFixture(t)
	f.mustPut("cart", set("base"))
	ctx := f.get("cart").Context
	f.mustPut("cart", kv.PutRequest{Value: []byte("a"), Context: ctx})
	f.mustPut("cart", kv.PutRequest{Value: []byte("b"), Context: ctx})
	o := f.get("cart")
	if got := values(o); len(got) != 2 || !got["a"] || !got["b"] {
		t.Fatalf("siblings = %v, want a and b", got)
	}
	// A blind write (no context) adds a sibling without superseding anything.
	f.mustPut("cart", kv.PutRequest{Value: []byte("c")})
	if got := values(f.get("cart")); len(got) != 3 {
		t.Fatalf("blind write: siblings = %v", got)
	}
	// A write with the latest context resolves them all.
	f.mustPut("cart", kv.PutRequest{Value: []byte("merged"), Context: f.get("cart").Context})
	if got := values(f.get("cart")); len(got) != 1 || !got["merged"] {
		t.Fatalf("after resolving: %v", got)
	}
}

func TestConditions(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(f *fixture)
		req     func(f *fixture) kv.PutRequest
		want    error
	}{
		{"add to missing", nil, func(*fixture) kv.PutRequest {
			return kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondAbsent}
		}, nil},
		{"add to present", func(f *fixture) { f.mustPut("k", set("v")) },
			func(*fixture) kv.PutRequest {
				return kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondAbsent}
			}, kv.ErrNotStored},
		{"add after delete", func(f *fixture) {
			f.mustPut("k", set("v"))
			f.mustPut("k", kv.PutRequest{Delete: true, SupersedeAll: true})
		},
			func(*fixture) kv.PutRequest {
				return kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondAbsent}
			}, nil},
		{"add after expiry", func(f *fixture) {
			f.mustPut("k", kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Expires: f.clock.Now().Unix() + 1})
			f.clock.Add(2 * time.Second)
		},
			func(*fixture) kv.PutRequest {
				return kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondAbsent}
			}, nil},
		{"replace missing", nil, func(*fixture) kv.PutRequest {
			return kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondPresent}
		}, kv.ErrNotStored},
		{"replace present", func(f *fixture) { f.mustPut("k", set("v")) },
			func(*fixture) kv.PutRequest {
				return kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondPresent}
			}, nil},
		{"delete missing", nil, func(*fixture) kv.PutRequest {
			return kv.PutRequest{Delete: true, SupersedeAll: true, Cond: kv.CondPresent}
		}, kv.ErrNotStored},
		{"cas missing", nil, func(*fixture) kv.PutRequest {
			return kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondCAS, CAS: 1}
		}, kv.ErrNotFound},
		{"cas stale", func(f *fixture) { f.mustPut("k", set("v")) },
			func(f *fixture) kv.PutRequest {
				c := f.get("k").CAS
				f.mustPut("k", set("w"))
				return kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondCAS, CAS: c}
			}, kv.ErrExists},
		{"cas current", func(f *fixture) { f.mustPut("k", set("v")) },
			func(f *fixture) kv.PutRequest {
				return kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondCAS, CAS: f.get("k").CAS}
			}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.prepare != nil {
				tc.prepare(f)
			}
			before := winner(f.get("k"))
			_, err := f.put("k", tc.req(f))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			after := winner(f.get("k"))
			if tc.want == nil && after != "x" && !f.get("k").Siblings[0].Deleted {
				t.Fatalf("write succeeded but value is %q", after)
			}
			if tc.want != nil && after != before && tc.name != "cas stale" {
				t.Fatalf("failed write changed the value from %q to %q", before, after)
			}
		})
	}
}

func TestDeleteLeavesTombstone(t *testing.T) {
	f := newFixture(t)
	f.mustPut("k", set("v"))
	f.mustPut("k", kv.PutRequest{Delete: true, SupersedeAll: true})
	o := f.get("k")
	if winner(o) != "<miss>" || len(o.Siblings) != 1 || !o.Siblings[0].Deleted || o.CAS == 0 {
		t.Fatalf("after delete: %+v", o)
	}
	// A write concurrent with the delete (context from before it) survives beside it.
	f2 := newFixture(t)
	f2.mustPut("k", set("v"))
	ctx := f2.get("k").Context
	f2.mustPut("k", kv.PutRequest{Delete: true, Context: ctx})
	f2.mustPut("k", kv.PutRequest{Value: []byte("w"), Context: ctx})
	if got := values(f2.get("k")); !got["w"] || !got["<deleted>"] {
		t.Fatalf("concurrent delete and write: %v", got)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now().Unix()
	f.mustPut("soon", kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Expires: now + 10})
	f.mustPut("past", kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Expires: -1})
	f.mustPut("never", set("v"))
	if winner(f.get("soon")) != "v" || winner(f.get("past")) != "<miss>" {
		t.Fatal("expiry misapplied before the deadline")
	}
	f.clock.Add(10 * time.Second)
	if winner(f.get("soon")) != "<miss>" || winner(f.get("never")) != "v" {
		t.Fatal("expiry misapplied at the deadline")
	}
}

// TestExpiredWinnerHidesOlderSibling: found by the simulator (seed 6). A
// set superseded only what its coordinator knew, so an older concurrent
// value stayed a sibling; when the set's TTL ran out, reads fell back to
// that older value, an overwritten value come back. An expired version
// is a tombstone to every reader and every condition.
func TestExpiredWinnerHidesOlderSibling(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now().Unix()
	f.mustPut("k", kv.PutRequest{Value: []byte("old")}) // concurrent with the next: no context
	f.clock.Add(time.Millisecond)
	f.mustPut("k", kv.PutRequest{Value: []byte("new"), Expires: now + 2})
	if got := winner(f.get("k")); got != "new" {
		t.Fatalf("before expiry: winner %q, want new", got)
	}
	f.clock.Add(3 * time.Second)
	if got := winner(f.get("k")); got != "<miss>" {
		t.Fatalf("after the winner expired: winner %q, want a miss", got)
	}
	if got := values(f.get("k")); len(got) != 2 || !got["old"] || !got["<deleted>"] {
		t.Fatalf("getv after expiry: %v, want the older sibling still listed beside the tombstone", got)
	}
	for _, req := range []kv.PutRequest{
		{Touch: true, Expires: now + 100},
		{Arith: &kv.Arith{Delta: 1}},
	} {
		if _, err := f.put("k", req); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("%+v on an expired winner: %v, want ErrNotFound", req, err)
		}
	}
	if _, err := f.put("k", kv.PutRequest{Value: []byte("x"), SupersedeAll: true, Cond: kv.CondPresent}); !errors.Is(err, kv.ErrNotStored) {
		t.Fatalf("replace on an expired winner: %v, want ErrNotStored", err)
	}
	f.mustPut("k", kv.PutRequest{Value: []byte("added"), SupersedeAll: true, Cond: kv.CondAbsent})
	if got := winner(f.get("k")); got != "added" {
		t.Fatalf("add on an expired winner: winner %q", got)
	}
}

func TestFlushAll(t *testing.T) {
	f := newFixture(t)
	f.mustPut("old", set("v"))
	if err := f.e.FlushAll(0); err != nil {
		t.Fatal(err)
	}
	f.mustPut("new", set("v"))
	if winner(f.get("old")) != "<miss>" || winner(f.get("new")) != "v" {
		t.Fatal("immediate flush_all misapplied")
	}
	// A delayed flush covers writes made before its deadline, only once it passes,
	// and does not bring back what the first flush hid.
	f.clock.Add(time.Second)
	if err := f.e.FlushAll(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Second)
	f.mustPut("during", set("v"))
	if winner(f.get("new")) != "v" || winner(f.get("during")) != "v" || winner(f.get("old")) != "<miss>" {
		t.Fatal("delayed flush applied early or undid the first one")
	}
	f.clock.Add(5 * time.Second)
	if winner(f.get("new")) != "<miss>" || winner(f.get("during")) != "<miss>" {
		t.Fatal("delayed flush not applied at its deadline")
	}
	f.mustPut("after", set("v"))
	// The flush points survive a restart.
	f.e.Close()
	f.st = f.st.reopen()
	f.open()
	if winner(f.get("new")) != "<miss>" || winner(f.get("old")) != "<miss>" || winner(f.get("after")) != "v" {
		t.Fatal("flush_all state lost across restart")
	}
}

// TestSiblingBound: a write that would leave a key more versions than
// MaxSiblings is refused, not stored by dropping older ones (they were
// acknowledged: the simulator's seed 740 lost 66 set elements to the
// old pruning, after a partition let context writers pile up siblings).
// A write whose context covers them resolves them.
func TestSiblingBound(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxSiblings = 3 })
	for i := range 3 {
		f.mustPut("k", kv.PutRequest{Value: []byte(strconv.Itoa(i))}) // blind writes: all concurrent
	}
	for i := 3; i < 5; i++ {
		if _, err := f.put("k", kv.PutRequest{Value: []byte(strconv.Itoa(i))}); !errors.Is(err, kv.ErrTooManySiblings) {
			t.Fatalf("write %d past the bound: %v, want ErrTooManySiblings", i, err)
		}
	}
	obj := f.get("k")
	if got := values(obj); len(got) != 3 || !got["0"] || !got["1"] || !got["2"] {
		t.Fatalf("siblings = %v, want the 3 acknowledged", got)
	}
	if stats := statMap(f.e); stats["engine_sibling_cap_hits"] != "2" {
		t.Fatalf("refusals not counted: %v", stats)
	}
	f.mustPut("k", kv.PutRequest{Value: []byte("resolved"), Context: obj.Context})
	if got := values(f.get("k")); len(got) != 1 || !got["resolved"] {
		t.Fatalf("after a write with the context: %v", got)
	}
}

func TestBadInput(t *testing.T) {
	f := newFixture(t)
	if _, err := f.put("k", kv.PutRequest{Value: []byte("v"), Context: []byte{9, 9}}); !errors.Is(err, kv.ErrBadContext) {
		t.Fatalf("bad context: %v", err)
	}
	long := string(make([]byte, kv.MaxKeyLen+1))
	if _, err := f.put(long, set("v")); !errors.Is(err, kv.ErrKeyTooLong) {
		t.Fatalf("long key: %v", err)
	}
	if _, err := f.put("", set("v")); !errors.Is(err, kv.ErrKeyTooLong) {
		t.Fatalf("empty key: %v", err)
	}
}

func TestActorSurvivesOnlyCleanShutdown(t *testing.T) {
	f := newFixture(t)
	first := f.e.Actor()
	f.e.Close()
	f.st = f.st.reopen()
	f.open()
	if f.e.Actor() != first {
		t.Fatal("clean restart changed the actor")
	}
	// Crash: no Close.
	f.st = f.st.reopen()
	f.open()
	if f.e.Actor() == first {
		t.Fatal("restart after a crash reused the actor")
	}
}

// After a crash that lost the latest buffered write, the restarted node
// must not hand out that write's dot again: if it did, a replica still
// holding the lost write would treat the new one as the same version.
func TestNoDotReuseAfterLostWrite(t *testing.T) {
	f := newFixture(t)
	f.mustPut("k", set("v1"))
	snapshot := f.st.reopen()
	snapshot.m = cloneMap(f.st.m) // disk as it was before v2 reached it
	lost := f.mustPut("k", set("v2"))
	f.st = snapshot
	f.open()
	again := f.mustPut("k", set("v3"))
	if string(again.Context) == string(lost.Context) {
		t.Fatal("restarted node reissued the lost write's context")
	}
}

func cloneMap(m map[string][]byte) map[string][]byte {
	c := make(map[string][]byte, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestStorageFailureKeepsOldValue(t *testing.T) {
	f := newFixture(t)
	f.mustPut("k", set("v1"))
	boom := errors.New("disk on fire")
	f.st.failSet = boom
	if _, err := f.put("k", set("v2")); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	f.st.failSet = nil
	if winner(f.get("k")) != "v1" {
		t.Fatal("failed write changed the value")
	}
}

func TestDurabilityPassedToStorage(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Durability = kv.WAL })
	f.st.sets = nil
	f.mustPut("a", set("v"))
	f.mustPut("b", kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Durability: kv.Sync})
	if len(f.st.sets) != 2 || f.st.sets[0] != kv.WAL || f.st.sets[1] != kv.Sync {
		t.Fatalf("durabilities = %v", f.st.sets)
	}
}

func TestConcurrentCASIncrementsLoseNothing(t *testing.T) {
	f := newFixture(t)
	f.mustPut("n", set("0"))
	const workers, each = 4, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var o kv.Object
			for range each {
				for {
					if err := f.e.Get([]byte("n"), &o, kv.ReadOptions{}); err != nil {
						t.Error(err)
						return
					}
					w, _ := o.Winner()
					n, _ := strconv.Atoi(string(w.Value))
					_, err := f.e.Put([]byte("n"), &kv.PutRequest{Value: []byte(strconv.Itoa(n + 1)), SupersedeAll: true, Cond: kv.CondCAS, CAS: o.CAS})
					if err == nil {
						break
					}
					if !errors.Is(err, kv.ErrExists) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if got := winner(f.get("n")); got != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s, want %d", got, workers*each)
	}
}

func TestReaperAndItemStats(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TombstoneTTL = time.Minute })
	now := f.clock.Now().Unix()
	f.mustPut("live", set("v"))
	f.mustPut("expiring", kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Expires: now + 5})
	f.mustPut("deleted", set("v"))
	f.mustPut("deleted", kv.PutRequest{Delete: true, SupersedeAll: true})
	st := statMap(f.e)
	if st["curr_items"] != "2" {
		t.Fatalf("curr_items = %s, want 2 (live, expiring)", st["curr_items"])
	}
	bytesBefore := st["bytes"]

	f.clock.Add(10 * time.Second) // expiring is dead, tombstone still young
	f.e.reapRound(nil)
	if _, ok := f.st.m[string(appendDataKey(nil, hashOf("expiring"), []byte("expiring")))]; ok {
		t.Fatal("expired record not reaped")
	}
	if len(f.get("deleted").Siblings) != 1 {
		t.Fatal("young tombstone reaped")
	}
	f.clock.Add(2 * time.Minute)
	f.e.reapRound(nil)
	if len(f.get("deleted").Siblings) != 0 || winner(f.get("live")) != "v" {
		t.Fatal("old tombstone kept or live item reaped")
	}
	st = statMap(f.e)
	if st["curr_items"] != "1" || st["engine_reaped"] != "2" || st["bytes"] == bytesBefore {
		t.Fatalf("stats after reaping: %v", st)
	}
	// The running counts agree with a recount from scratch.
	f.e.Close()
	f.st = f.st.reopen()
	f.open()
	if again := statMap(f.e); again["curr_items"] != st["curr_items"] || again["bytes"] != st["bytes"] {
		t.Fatalf("recount differs: %v vs %v", again, st)
	}
}

func TestReaperResumesInBatches(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ReapBatch = 3 })
	for i := range 10 {
		f.mustPut("k"+strconv.Itoa(i), kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Expires: -1})
	}
	var cursor []byte
	rounds := 0
	for {
		cursor = f.e.reapRound(cursor)
		rounds++
		if cursor == nil {
			break
		}
	}
	if rounds != 4 || statMap(f.e)["engine_reaped"] != "10" {
		t.Fatalf("rounds = %d, reaped = %s", rounds, statMap(f.e)["engine_reaped"])
	}
}

func hashOf(k string) uint64 {
	return hashKey([]byte(k))
}

func statMap(e *Engine) map[string]string {
	m := map[string]string{}
	for _, s := range e.Stats() {
		m[s.Name] = s.Value
	}
	return m
}

func TestOptionsValidation(t *testing.T) {
	for name, o := range map[string]Options{
		"no dir":         {},
		"negative ttl":   {Storage: newMemStorage(), TombstoneTTL: -1},
		"bad durability": {Storage: newMemStorage(), Durability: 9},
	} {
		if _, err := Open(o); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func BenchmarkPutGet(b *testing.B) {
	e, err := Open(Options{Storage: newMemStorage(), ReapInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	key := []byte("benchmark:key:000001")
	req := &kv.PutRequest{Value: make([]byte, 100), SupersedeAll: true}
	var o kv.Object
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Put(key, req); err != nil {
			b.Fatal(err)
		}
		if err := e.Get(key, &o, kv.ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetCounter reads a counter: its value is rendered from the
// merged lineage on every read.
func BenchmarkGetCounter(b *testing.B) {
	e, err := Open(Options{Storage: newMemStorage(), ReapInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	key := []byte("benchmark:counter")
	if _, err := e.Put(key, &kv.PutRequest{Value: []byte("41"), SupersedeAll: true}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.Put(key, &kv.PutRequest{Arith: &kv.Arith{Delta: 1}}); err != nil {
		b.Fatal(err)
	}
	var o kv.Object
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Get(key, &o, kv.ReadOptions{}); err != nil || string(o.Siblings[0].Value) != "42" {
			b.Fatalf("%v %+v", err, o.Siblings)
		}
	}
}

func TestCASDistinctAndNonZero(t *testing.T) {
	f := newFixture(t)
	seen := map[uint64]string{}
	var rec record.Record
	for i := range 20000 {
		rec.Siblings = append(rec.Siblings[:0], record.Sibling{Timestamp: 1, Dot: dvv.Dot{Actor: dvv.Actor(i%7 + 1), Counter: uint64(i/7 + 1)}})
		for _, key := range []string{"a", "b"} {
			c := f.e.casOf([]byte(key), &rec, time.Now())
			id := fmt.Sprintf("%s %v", key, rec.Siblings[0].Dot)
			if c == 0 {
				t.Fatal("cas 0")
			}
			if prev, dup := seen[c]; dup {
				t.Fatalf("cas collision between %s and %s", prev, id)
			}
			seen[c] = id
		}
	}
	if f.e.casOf([]byte("a"), &record.Record{}, time.Now()) != 0 {
		t.Fatal("a key with no version has a cas")
	}
}

// Writes issued in the same millisecond as the flush, after the logical
// counter moved past the millisecond's ceiling, are still flushed.
func TestFlushAllCoversSameMillisecondWrites(t *testing.T) {
	f := newFixture(t) // the test clock stands still: every write shares one millisecond
	for i := range 200 {
		f.mustPut("k", set("v"))
		if err := f.e.FlushAll(0); err != nil {
			t.Fatal(err)
		}
		if winner(f.get("k")) != "<miss>" {
			t.Fatalf("round %d: a write made before flush_all survived it", i)
		}
	}
}

// A round larger than a chunk is worked in chunks with a rest after each
// but the last, and still reaps everything it covers.
func TestReaperRestsBetweenChunks(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ReapBatch = 1000 })
	const n = 2*reapChunk + 88
	for i := range n {
		f.mustPut("k"+strconv.Itoa(i), kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Expires: -1})
	}
	var rests []time.Duration
	f.e.reapPacer = pace.Pacer{Share: 0.1, Sleep: func(d time.Duration, _ <-chan struct{}) bool {
		rests = append(rests, d)
		return true
	}}
	if cursor := f.e.reapRound(nil); cursor != nil {
		t.Errorf("round of %d over %d records did not reach the end", 1000, n)
	}
	if got := statMap(f.e)["engine_reaped"]; got != strconv.Itoa(n) {
		t.Errorf("reaped %s, want %d", got, n)
	}
	if len(rests) != 2 {
		t.Errorf("%d rests, want 2 (three chunks)", len(rests))
	}
	// A stop during a rest ends the round where it was.
	f2 := newFixture(t, func(o *Options) { o.ReapBatch = 1000 })
	for i := range n {
		f2.mustPut("k"+strconv.Itoa(i), kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Expires: -1})
	}
	f2.e.reapPacer = pace.Pacer{Share: 0.1, Sleep: func(time.Duration, <-chan struct{}) bool { return false }}
	if cursor := f2.e.reapRound(nil); cursor == nil {
		t.Error("stopped round reported the end of the data")
	}
	if got := statMap(f2.e)["engine_reaped"]; got != strconv.Itoa(reapChunk) {
		t.Errorf("stopped after one chunk but reaped %s, want %d", got, reapChunk)
	}
}
