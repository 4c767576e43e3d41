package engine

import (
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// syncGate holds every fsync while it is shut, and says when one is held.
type syncGate struct {
	mu    sync.Mutex
	shut  bool
	open  chan struct{}
	holds chan struct{} // one send per fsync that found the gate shut
}

func newSyncGate() *syncGate {
	return &syncGate{open: make(chan struct{}), holds: make(chan struct{}, 64)}
}

func (g *syncGate) pass() {
	g.mu.Lock()
	shut, open := g.shut, g.open
	g.mu.Unlock()
	if shut {
		g.holds <- struct{}{}
		<-open
	}
}

func (g *syncGate) close() { g.mu.Lock(); g.shut = true; g.mu.Unlock() }

func (g *syncGate) release() {
	g.mu.Lock()
	g.shut = false
	close(g.open)
	g.open = make(chan struct{})
	g.mu.Unlock()
}

// gatedFS is a filesystem whose files' fsyncs go through a syncGate.
type gatedFS struct {
	vfs.FS
	gate *syncGate
}

func (fs gatedFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(f, err)
}

func (fs gatedFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(f, err)
}

func (fs gatedFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(f, err)
}

func (fs gatedFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return gatedFile{f, fs.gate}, nil
}

type gatedFile struct {
	vfs.File
	gate *syncGate
}

func (f gatedFile) Sync() error     { f.gate.pass(); return f.File.Sync() }
func (f gatedFile) SyncData() error { f.gate.pass(); return f.File.SyncData() }

// A write waiting for its fsync holds no lock another writer needs: the
// engine buffers it under the key's lock stripe (and its partition tree's
// lock) and waits after releasing them. In a bench-join run one WAL fsync
// took 69 ms, and writes to keys that shared a stripe or a partition with a
// Sync write (a durable hint, a handoff's merge) waited behind it, buffered
// as they were.
func TestADurableWriteWaitsWithoutHoldingItsLocks(t *testing.T) {
	gate := newSyncGate()
	e, err := Open(Options{Dir: "db", FS: gatedFS{vfs.NewMem(), gate}, Durability: kv.Buffered,
		Replicated: true, SyncInterval: -1, ReapInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { gate.release(); e.Close() }()
	// Two keys in one lock stripe.
	first := []byte("k0")
	var second []byte
	for i := 1; second == nil; i++ {
		k := []byte("k" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)))
		if e.lockFor(hashKey(k)) == e.lockFor(hashKey(first)) {
			second = k
		}
	}
	gate.close()
	durable := make(chan error, 1)
	go func() {
		_, err := e.Put(first, &kv.PutRequest{Value: []byte("v"), SupersedeAll: true, Durability: kv.Sync})
		durable <- err
	}()
	<-gate.holds // the Sync write's round is in its fsync, held

	hinted := make(chan error, 1)
	go func() { hinted <- e.AddHint("n9", first, kv.Sync) }()
	buffered := make(chan error, 1)
	go func() {
		_, err := e.Put(second, &kv.PutRequest{Value: []byte("w"), SupersedeAll: true})
		buffered <- err
	}()
	merged := make(chan error, 1)
	go func() {
		_, err := e.Put(first, &kv.PutRequest{Value: []byte("x"), SupersedeAll: true})
		merged <- err
	}()
	for name, done := range map[string]chan error{"a buffered write to a key of the same stripe": buffered, "a buffered write to the same key": merged} {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s waited for another write's fsync", name)
		}
	}
	select {
	case err := <-durable:
		t.Fatalf("the Sync write returned (%v) while its fsync was held", err)
	case err := <-hinted:
		t.Fatalf("the Sync hint returned (%v) while its fsync was held", err)
	default:
	}
	gate.release()
	for name, done := range map[string]chan error{"the Sync write": durable, "the Sync hint": hinted} {
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
