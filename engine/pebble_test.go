package engine

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// These tests run the engine on the real store (Pebble on an in-memory FS).

func TestPebbleRoundTripAndRestart(t *testing.T) {
	fs := vfs.NewMem()
	open := func() *Engine {
		e, err := Open(Options{Dir: "db", FS: fs, Durability: kv.WAL, ReapInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := open()
	actor := e.Actor()
	ctx := mustPutE(t, e, "cart", &kv.PutRequest{Value: []byte("base"), SupersedeAll: true}).Context
	mustPutE(t, e, "cart", &kv.PutRequest{Value: []byte("a"), Context: ctx})
	mustPutE(t, e, "cart", &kv.PutRequest{Value: []byte("b"), Context: ctx, Durability: kv.Sync})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = open()
	defer e.Close()
	if e.Actor() != actor {
		t.Fatal("clean restart changed the actor")
	}
	var o kv.Object
	if err := e.Get([]byte("cart"), &o, kv.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := values(&o); len(got) != 2 || !got["a"] || !got["b"] {
		t.Fatalf("after restart siblings = %v", got)
	}
	if st := statMap(e); st["curr_items"] != "1" || st["store_failure"] != "none" {
		t.Fatalf("stats after restart: curr_items=%s store_failure=%s", st["curr_items"], st["store_failure"])
	}
}

// A power cut after acknowledged Sync writes loses none of them and leaves
// every key readable; the restarted node is a new actor.
func TestPebbleCrashKeepsSyncWrites(t *testing.T) {
	fs := vfs.NewCrashableMem()
	e, err := Open(Options{Dir: "db", FS: fs, Durability: kv.Buffered, ReapInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	actor := e.Actor()
	const n = 200
	for i := range n {
		d := kv.Buffered
		if i%2 == 0 {
			d = kv.Sync
		}
		mustPutE(t, e, fmt.Sprint("k", i), &kv.PutRequest{Value: []byte(fmt.Sprint("v", i)), SupersedeAll: true, Durability: d})
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	e.Close() // the original instance; the clone is what the disk held at the cut

	e2, err := Open(Options{Dir: "db", FS: crashed, ReapInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if e2.Actor() == actor {
		t.Fatal("node restarted after a crash with its old actor")
	}
	var o kv.Object
	for i := range n {
		if err := e2.Get([]byte(fmt.Sprint("k", i)), &o, kv.ReadOptions{}); err != nil {
			t.Fatalf("k%d unreadable after crash: %v", i, err)
		}
		w, ok := o.Winner()
		if i%2 == 0 && (!ok || string(w.Value) != fmt.Sprint("v", i)) {
			t.Fatalf("acknowledged sync write k%d lost", i)
		}
		if ok && string(w.Value) != fmt.Sprint("v", i) {
			t.Fatalf("k%d holds %q, which was never written to it", i, w.Value)
		}
	}
}

func mustPutE(t *testing.T, e *Engine, key string, req *kv.PutRequest) kv.PutResult {
	t.Helper()
	r, err := e.Put([]byte(key), req)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return r
}

// A Sync merge of a record the replica already holds, buffered, makes that
// record durable even though it changes nothing: ownership handoff and hint
// delivery send Sync merges and then let go of their own copy, which may
// have been the write's only durable one (the simulator's seed 566 lost
// acknowledged set elements this way).
func TestUnchangedSyncMergeIsDurable(t *testing.T) {
	src, err := Open(Options{Dir: "src", FS: vfs.NewMem(), ReapInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	mustPutE(t, src, "k", &kv.PutRequest{Value: []byte("v"), SupersedeAll: true})
	rec, _, err := src.Record([]byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}

	fs := vfs.NewCrashableMem()
	// No periodic flush or fsync: only what a merge itself asks for is on disk.
	e, err := Open(Options{Dir: "db", FS: fs, Durability: kv.Buffered, FlushInterval: time.Hour,
		SyncInterval: -1, ReapInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.MergeRecord([]byte("k"), rec, kv.Buffered); err != nil {
		t.Fatal(err)
	}
	if changed, err := e.MergeRecord([]byte("k"), rec, kv.Sync); err != nil || changed {
		t.Fatalf("second merge: changed=%v err=%v", changed, err)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	e.Close()
	e2, err := Open(Options{Dir: "db", FS: crashed, ReapInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	var o kv.Object
	if err := e2.Get([]byte("k"), &o, kv.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if w, ok := o.Winner(); !ok || string(w.Value) != "v" {
		t.Fatal("a record merged with Sync was lost in a crash")
	}
}

// A drop is buffered; Sync makes it survive a power cut. A node that
// left the ring says it holds nothing only after Sync (node's
// watchDrained): before, a crash after the others forgot it brought back
// records it had handed off and dropped.
func TestSyncMakesADropDurable(t *testing.T) {
	fs := vfs.NewCrashableMem()
	e, err := Open(Options{Dir: "db", FS: fs, Durability: kv.Buffered, SyncInterval: -1, Replicated: true, ReapInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	mustPutE(t, e, "k", &kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Durability: kv.Sync})
	rec, _, err := e.Record([]byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if dropped, err := e.DropRecordIf([]byte("k"), rec); !dropped || err != nil {
		t.Fatalf("drop: %v %v", dropped, err)
	}
	holds := func() bool {
		t.Helper()
		e2, err := Open(Options{Dir: "db", FS: fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}), Replicated: true, ReapInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer e2.Close()
		_, found, err := e2.Record([]byte("k"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	if !holds() {
		t.Fatal("a buffered drop survived a power cut without a sync: the test no longer shows the gap Sync closes")
	}
	if err := e.Sync(); err != nil {
		t.Fatal(err)
	}
	if holds() {
		t.Fatal("after Sync, a power cut still brings the dropped record back")
	}
}

// limit_maxbytes is the memory the node may hold data in: the record
// cache, the write buffer, the block cache and the memtables Pebble keeps
// before it stalls writes (memcached dashboards read it as the cache size).
func TestLimitMaxBytes(t *testing.T) {
	e, err := Open(Options{Dir: "db", FS: vfs.NewMem(), ReapInterval: time.Hour,
		RecordCacheBytes: 8 << 20, BufferBytes: 1 << 20, CacheBytes: 2 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	want := strconv.Itoa(8<<20 + 1<<20 + 2<<20 + 4*(4<<20))
	if got := statMap(e)["limit_maxbytes"]; got != want {
		t.Fatalf("limit_maxbytes = %s, want %s", got, want)
	}
}
