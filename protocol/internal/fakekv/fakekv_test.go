package fakekv

import (
	"errors"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

func TestSiblingsAndContexts(t *testing.T) {
	db := New(nil)
	key := []byte("k")
	var o kv.Object
	if err := db.Get(key, &o, kv.ReadOptions{}); err != nil || len(o.Siblings) != 0 || o.CAS != 0 {
		t.Fatalf("empty get: %v %+v", err, o)
	}
	r1, err := db.Put(key, &kv.PutRequest{Value: []byte("a")})
	if err != nil {
		t.Fatal(err)
	}
	// Two writers both read r1's context and write concurrently.
	if _, err := db.Put(key, &kv.PutRequest{Value: []byte("b"), Context: r1.Context}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Put(key, &kv.PutRequest{Value: []byte("c"), Context: r1.Context}); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(key, &o, kv.ReadOptions{}); err != nil {
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
	if _, err := db.Put(key, &kv.PutRequest{Delete: true, Context: o.Context}); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(key, &o, kv.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(o.Siblings) != 1 || !o.Siblings[0].Deleted || o.CAS == 0 {
		t.Fatalf("want one tombstone with a CAS, got %+v", o)
	}
	if _, ok := o.Winner(); ok {
		t.Fatal("tombstone must not win")
	}
	if _, err := db.Put(key, &kv.PutRequest{Context: []byte{9}}); !errors.Is(err, kv.ErrBadContext) {
		t.Fatalf("bad context: %v", err)
	}
}

func TestConditions(t *testing.T) {
	db := New(nil)
	key := []byte("k")
	put := func(req kv.PutRequest) error { _, err := db.Put(key, &req); return err }
	if err := put(kv.PutRequest{Cond: kv.CondPresent}); !errors.Is(err, kv.ErrNotStored) {
		t.Fatalf("present on missing: %v", err)
	}
	if err := put(kv.PutRequest{Cond: kv.CondCAS, CAS: 1}); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("cas on missing: %v", err)
	}
	if err := put(kv.PutRequest{Value: []byte("v"), Cond: kv.CondAbsent}); err != nil {
		t.Fatal(err)
	}
	if err := put(kv.PutRequest{Cond: kv.CondAbsent}); !errors.Is(err, kv.ErrNotStored) {
		t.Fatalf("absent on present: %v", err)
	}
	var o kv.Object
	_ = db.Get(key, &o, kv.ReadOptions{})
	if err := put(kv.PutRequest{Cond: kv.CondCAS, CAS: o.CAS + 1}); !errors.Is(err, kv.ErrExists) {
		t.Fatalf("cas mismatch: %v", err)
	}
	if err := put(kv.PutRequest{Value: []byte("w"), SupersedeAll: true, Cond: kv.CondCAS, CAS: o.CAS}); err != nil {
		t.Fatalf("cas match: %v", err)
	}
}

func TestExpiryAndFlush(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	db := New(func() time.Time { return now })
	key := []byte("k")
	_, _ = db.Put(key, &kv.PutRequest{Value: []byte("v"), Expires: now.Unix() + 10, SupersedeAll: true})
	var o kv.Object
	_ = db.Get(key, &o, kv.ReadOptions{})
	if len(o.Siblings) != 1 {
		t.Fatal("value should be live")
	}
	now = now.Add(10 * time.Second)
	_ = db.Get(key, &o, kv.ReadOptions{})
	if _, ok := o.Winner(); ok || len(o.Siblings) != 1 || !o.Siblings[0].Deleted {
		t.Fatalf("an expired value reads as a tombstone, as in the engine: %+v", o.Siblings)
	}
	_, _ = db.Put(key, &kv.PutRequest{Value: []byte("v"), SupersedeAll: true})
	_ = db.FlushAll(5 * time.Second)
	_ = db.Get(key, &o, kv.ReadOptions{})
	if len(o.Siblings) != 1 {
		t.Fatal("delayed flush must not hide the value yet")
	}
	now = now.Add(5 * time.Second)
	_ = db.Get(key, &o, kv.ReadOptions{})
	if len(o.Siblings) != 0 {
		t.Fatal("flush should have taken effect")
	}
}
