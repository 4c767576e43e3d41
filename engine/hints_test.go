package engine

import (
	"testing"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

func TestHints(t *testing.T) {
	f := newFixture(t)
	for _, h := range []struct{ owner, key string }{{"b", "k1"}, {"c", "k1"}, {"b", "k2"}} {
		if err := f.e.AddHint(h.owner, []byte(h.key), kv.Buffered); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := f.e.ScanHints(func(owner string, key []byte) bool {
		got = append(got, owner+"/"+string(key))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != "b/k1" || got[1] != "c/k1" || got[2] != "b/k2" {
		t.Fatalf("hints = %v", got)
	}
	if has, _ := f.e.HasHints([]byte("k1")); !has {
		t.Fatal("k1 has hints")
	}
	if has, _ := f.e.HasHints([]byte("k")); has {
		t.Fatal("a key that is a prefix of a hinted key reported hints")
	}
	f.e.DeleteHint("b", []byte("k1"))
	f.e.DeleteHint("c", []byte("k1"))
	if has, _ := f.e.HasHints([]byte("k1")); has {
		t.Fatal("hints left after deleting both")
	}
}

func TestDropRecordIf(t *testing.T) {
	f := newFixture(t)
	f.mustPut("k", set("v1"))
	rec, _, _ := f.e.Record([]byte("k"), nil)
	f.mustPut("k", set("v2"))
	if dropped, err := f.e.DropRecordIf([]byte("k"), rec); err != nil || dropped {
		t.Fatalf("dropped a record that changed since: %v %v", dropped, err)
	}
	rec, _, _ = f.e.Record([]byte("k"), nil)
	// A record still owed to an owner (a hint names it) stays.
	if err := f.e.AddHint("b", []byte("k"), kv.Buffered); err != nil {
		t.Fatal(err)
	}
	if dropped, err := f.e.DropRecordIf([]byte("k"), rec); err != nil || dropped {
		t.Fatalf("dropped a record a hint names: %v %v", dropped, err)
	}
	if err := f.e.DeleteHint("b", []byte("k")); err != nil {
		t.Fatal(err)
	}
	if dropped, err := f.e.DropRecordIf([]byte("k"), rec); err != nil || !dropped {
		t.Fatalf("did not drop an unchanged record: %v %v", dropped, err)
	}
	if o := f.get("k"); len(o.Siblings) != 0 {
		t.Fatal("record still readable after drop")
	}
	if st := statMap(f.e); st["curr_items"] != "0" || st["bytes"] != "0" {
		t.Fatalf("stats after drop: items %s bytes %s", st["curr_items"], st["bytes"])
	}
}

// engine_hints_held counts the hints stored: a hint added twice or
// deleted twice counts once, and a restart counts them again.
func TestHintsHeld(t *testing.T) {
	f := newFixture(t)
	held := func() string {
		for _, s := range f.e.Stats() {
			if s.Name == "engine_hints_held" {
				return s.Value
			}
		}
		return "absent"
	}
	for _, h := range []struct{ owner, key string }{{"b", "k1"}, {"b", "k1"}, {"c", "k1"}, {"b", "k2"}} {
		if err := f.e.AddHint(h.owner, []byte(h.key), kv.Buffered); err != nil {
			t.Fatal(err)
		}
	}
	if got := held(); got != "3" {
		t.Fatalf("hints held after 3 distinct adds (one twice) = %s", got)
	}
	for range 2 {
		if err := f.e.DeleteHint("b", []byte("k1")); err != nil {
			t.Fatal(err)
		}
	}
	if got := held(); got != "2" {
		t.Fatalf("hints held after deleting one (twice) = %s", got)
	}
	if err := f.e.Close(); err != nil {
		t.Fatal(err)
	}
	f.open()
	if got := held(); got != "2" {
		t.Fatalf("hints held after a restart = %s", got)
	}
}
