package fakekv

import (
	"errors"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
)

func TestSiblingsAndContexts(t *testing.T) {
	kv := New(nil)
	key := []byte("k")
	var o engine.Object
	if err := kv.Get(key, &o); err != nil || len(o.Siblings) != 0 || o.CAS != 0 {
		t.Fatalf("empty get: %v %+v", err, o)
	}
	r1, err := kv.Put(key, &engine.PutRequest{Value: []byte("a")})
	if err != nil {
		t.Fatal(err)
	}
	// Two writers both read r1's context and write concurrently.
	if _, err := kv.Put(key, &engine.PutRequest{Value: []byte("b"), Context: r1.Context}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(key, &engine.PutRequest{Value: []byte("c"), Context: r1.Context}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Get(key, &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Siblings) != 2 {
		t.Fatalf("want 2 siblings, got %d", len(o.Siblings))
	}
	w, ok := o.Winner()
	if !ok || string(w.Value) != "c" {
		t.Fatalf("winner = %q %v, want c", w.Value, ok)
	}
	// A write with the merged context resolves them.
	if _, err := kv.Put(key, &engine.PutRequest{Delete: true, Context: o.Context}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Get(key, &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Siblings) != 1 || !o.Siblings[0].Deleted || o.CAS == 0 {
		t.Fatalf("want one tombstone with a CAS, got %+v", o)
	}
	if _, ok := o.Winner(); ok {
		t.Fatal("tombstone must not win")
	}
	if _, err := kv.Put(key, &engine.PutRequest{Context: []byte{9}}); !errors.Is(err, engine.ErrBadContext) {
		t.Fatalf("bad context: %v", err)
	}
}

func TestConditions(t *testing.T) {
	kv := New(nil)
	key := []byte("k")
	put := func(req engine.PutRequest) error { _, err := kv.Put(key, &req); return err }
	if err := put(engine.PutRequest{Cond: engine.CondPresent}); !errors.Is(err, engine.ErrNotStored) {
		t.Fatalf("present on missing: %v", err)
	}
	if err := put(engine.PutRequest{Cond: engine.CondCAS, CAS: 1}); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("cas on missing: %v", err)
	}
	if err := put(engine.PutRequest{Value: []byte("v"), Cond: engine.CondAbsent}); err != nil {
		t.Fatal(err)
	}
	if err := put(engine.PutRequest{Cond: engine.CondAbsent}); !errors.Is(err, engine.ErrNotStored) {
		t.Fatalf("absent on present: %v", err)
	}
	var o engine.Object
	_ = kv.Get(key, &o)
	if err := put(engine.PutRequest{Cond: engine.CondCAS, CAS: o.CAS + 1}); !errors.Is(err, engine.ErrExists) {
		t.Fatalf("cas mismatch: %v", err)
	}
	if err := put(engine.PutRequest{Value: []byte("w"), SupersedeAll: true, Cond: engine.CondCAS, CAS: o.CAS}); err != nil {
		t.Fatalf("cas match: %v", err)
	}
}

func TestExpiryAndFlush(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	kv := New(func() time.Time { return now })
	key := []byte("k")
	_, _ = kv.Put(key, &engine.PutRequest{Value: []byte("v"), Expires: now.Unix() + 10, SupersedeAll: true})
	var o engine.Object
	_ = kv.Get(key, &o)
	if len(o.Siblings) != 1 {
		t.Fatal("value should be live")
	}
	now = now.Add(10 * time.Second)
	_ = kv.Get(key, &o)
	if len(o.Siblings) != 0 {
		t.Fatal("value should have expired")
	}
	_, _ = kv.Put(key, &engine.PutRequest{Value: []byte("v"), SupersedeAll: true})
	_ = kv.FlushAll(5 * time.Second)
	_ = kv.Get(key, &o)
	if len(o.Siblings) != 1 {
		t.Fatal("delayed flush must not hide the value yet")
	}
	now = now.Add(5 * time.Second)
	_ = kv.Get(key, &o)
	if len(o.Siblings) != 0 {
		t.Fatal("flush should have taken effect")
	}
}
