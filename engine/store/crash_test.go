package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Crash-test values carry their key, a version and a checksum, so that a
// torn or misplaced value is detected: key|version(8)|padding|crc(4).
func crashValue(key string, version uint64, padding int) []byte {
	v := make([]byte, 0, len(key)+8+padding+4)
	v = append(v, key...)
	v = binary.BigEndian.AppendUint64(v, version)
	for i := range padding {
		v = append(v, byte(version+uint64(i)))
	}
	return binary.BigEndian.AppendUint32(v, crc32.ChecksumIEEE(v))
}

// decodeCrashValue returns the version of a value written for key, or an
// error if the value is not one crashValue produced for it.
func decodeCrashValue(key string, v []byte) (uint64, error) {
	if len(v) < len(key)+12 {
		return 0, fmt.Errorf("value of %q too short (%d bytes)", key, len(v))
	}
	body, sum := v[:len(v)-4], binary.BigEndian.Uint32(v[len(v)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return 0, fmt.Errorf("value of %q fails its checksum", key)
	}
	if string(body[:len(key)]) != key {
		return 0, fmt.Errorf("value of %q belongs to %q", key, body[:len(key)])
	}
	return binary.BigEndian.Uint64(body[len(key):]), nil
}

// isDeleteVersion says which versions of a key are deletes.
func isDeleteVersion(version uint64) bool { return version%5 == 0 }

// crashHistory records, per key, the last version whose write started and
// the last version acknowledged in Sync mode.
type crashHistory struct {
	mu        sync.Mutex
	started   map[string]uint64
	syncAcked map[string]uint64
	syncAcks  int // Sync acknowledgements so far
}

func (h *crashHistory) snapshot() (started, syncAcked map[string]uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	started, syncAcked = map[string]uint64{}, map[string]uint64{}
	for k, v := range h.started {
		started[k] = v
	}
	for k, v := range h.syncAcked {
		syncAcked[k] = v
	}
	return started, syncAcked
}

// crashWriter writes versions 1, 2, ... of its own keys in random modes,
// every fifth version a delete, until stop closes.
func crashWriter(s *Store, h *crashHistory, w int, seed uint64, stop <-chan struct{}) error {
	rng := rand.New(rand.NewPCG(seed, uint64(w)))
	versions := map[string]uint64{}
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		key := fmt.Sprintf("w%d/k%02d", w, rng.IntN(12))
		versions[key]++
		ver := versions[key]
		mode := modes[rng.IntN(len(modes))]
		h.mu.Lock()
		h.started[key] = ver
		h.mu.Unlock()
		var err error
		if isDeleteVersion(ver) {
			err = s.Delete([]byte(key), mode)
		} else {
			padding := rng.IntN(512)
			if rng.IntN(20) == 0 {
				padding = 40 << 10 // spans WAL blocks
			}
			err = s.Set([]byte(key), crashValue(key, ver, padding), mode)
		}
		if err != nil {
			return err
		}
		if mode == Sync {
			h.mu.Lock()
			h.syncAcked[key] = ver
			h.syncAcks++
			h.mu.Unlock()
		}
	}
}

// TestCrashKeepsSyncWrites crashes a CrashableMem FS under concurrent
// writers in mixed modes (keeping none, half or all of the unsynced data)
// and checks the reopened store: every Sync-acknowledged write survives,
// and every value is one that was written for its key.
func TestCrashKeepsSyncWrites(t *testing.T) {
	for seed := range uint64(6) {
		unsynced := []int{0, 50, 100}[seed%3]
		t.Run(fmt.Sprintf("seed=%d/unsynced=%d%%", seed, unsynced), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			opts := testOptions(fs)
			opts.FlushInterval = 0 // default 10 ms
			opts.SyncInterval = 0  // default 100 ms
			opts.MemTableBytes = 1 << 20
			s := mustOpen(t, opts)

			h := &crashHistory{started: map[string]uint64{}, syncAcked: map[string]uint64{}}
			stop := make(chan struct{})
			errc := make(chan error, 4)
			for w := range 4 {
				go func() { errc <- crashWriter(s, h, w, seed, stop) }()
			}
			crashAfter := 200 + rand.New(rand.NewPCG(seed, 99)).IntN(400)
			waitFor(t, "some Sync acknowledgements", func() bool {
				h.mu.Lock()
				defer h.mu.Unlock()
				return h.syncAcks >= crashAfter
			})
			_, mustSurvive := h.snapshot()
			crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rand.New(rand.NewPCG(seed, 1))})
			mayExist, _ := h.snapshot()
			close(stop)
			for range 4 {
				if err := <-errc; err != nil {
					t.Fatalf("writer: %v", err)
				}
			}

			r := mustOpen(t, testOptions(crashed))
			checkCrashState(t, r, mayExist, mustSurvive)
		})
	}
}

func checkCrashState(t *testing.T, r *Store, mayExist, mustSurvive map[string]uint64) {
	t.Helper()
	found := map[string]uint64{}
	err := r.Scan(nil, nil, func(k, v []byte) bool {
		ver, err := decodeCrashValue(string(k), v)
		if err != nil {
			t.Error(err)
		}
		found[string(k)] = ver
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for key, started := range mayExist {
		acked := mustSurvive[key]
		ver, present := found[key]
		switch {
		case present && (ver < acked || ver > started || isDeleteVersion(ver)):
			t.Errorf("%s: recovered version %d outside [sync-acked %d, started %d] or a delete", key, ver, acked, started)
		case !present && acked > 0 && !deleteBetween(acked, started):
			t.Errorf("%s: missing, though version %d was Sync-acknowledged and no later delete started", key, acked)
		}
		delete(found, key)
	}
	for key := range found {
		t.Errorf("%s: recovered but never written", key)
	}
}

func deleteBetween(lo, hi uint64) bool {
	for v := lo; v <= hi; v++ {
		if isDeleteVersion(v) {
			return true
		}
	}
	return false
}

// TestCrashRecoversAPrefix writes fresh keys in order in Buffered and WAL
// mode with occasional Flushes, then crashes: the surviving keys must be a
// prefix of the write order (no holes), and must include every key written
// before the last Flush that returned before the crash.
func TestCrashRecoversAPrefix(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			opts := testOptions(fs)
			opts.FlushInterval = 0
			opts.MemTableBytes = 1 << 20
			s := mustOpen(t, opts)
			rng := rand.New(rand.NewPCG(seed, 3))
			n := 300 + rng.IntN(300)
			flushed := 0 // keys [0, flushed) were written before a completed Flush
			for i := range n {
				key := fmt.Sprintf("k%05d", i)
				mode := modes[rng.IntN(2)] // Buffered or WAL
				if err := s.Set([]byte(key), crashValue(key, uint64(i+1), rng.IntN(3000)), mode); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(50) == 0 {
					mustFlush(t, s)
					flushed = i + 1
				}
			}
			crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rand.New(rand.NewPCG(seed, 4))})
			r := mustOpen(t, testOptions(crashed))
			next := 0
			err := r.Scan(nil, nil, func(k, v []byte) bool {
				if want := fmt.Sprintf("k%05d", next); string(k) != want {
					t.Errorf("recovered %s where the prefix continues with %s", k, want)
					return false
				}
				if ver, err := decodeCrashValue(string(k), v); err != nil || ver != uint64(next+1) {
					t.Errorf("%s: version %d, %v", k, ver, err)
				}
				next++
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if next < flushed {
				t.Errorf("recovered %d keys, but %d were written before a completed Flush", next, flushed)
			}
			t.Logf("recovered %d of %d keys; %d were flushed", next, n, flushed)
		})
	}
}

// TestWALModeTailIsInProcess pins the Pebble behaviour that the package
// documentation relies on: a WAL-mode acknowledgement does not mean the
// record reached the kernel. Even a clone that keeps all unsynced data (a
// process crash, not a power loss) misses it, until something fsyncs.
func TestWALModeTailIsInProcess(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s := mustOpen(t, testOptions(fs)) // periodic syncs off
	mustSet(t, s, "synced", "1", Sync)
	mustSet(t, s, "wal", "2", WAL)
	keepAll := vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 1))}

	r := mustOpen(t, testOptions(fs.CrashClone(keepAll)))
	expectGet(t, r, "synced", "1", true)
	expectGet(t, r, "wal", "", false)

	mustSet(t, s, "later", "3", Sync) // its fsync covers the WAL-mode record
	r = mustOpen(t, testOptions(fs.CrashClone(vfs.CrashCloneCfg{})))
	expectGet(t, r, "wal", "2", true)
}

// TestPeriodicSyncMakesWritesDurable: with no Sync writer and no Flush, the
// writer's periodic fsync alone must make Buffered and WAL writes survive a
// power-loss crash.
func TestPeriodicSyncMakesWritesDurable(t *testing.T) {
	fs := vfs.NewCrashableMem()
	opts := testOptions(fs)
	opts.FlushInterval = time.Millisecond
	opts.SyncInterval = 5 * time.Millisecond
	s := mustOpen(t, opts)
	mustSet(t, s, "b", "buffered", Buffered)
	mustSet(t, s, "w", "wal", WAL)
	// Poll crash images until both writes are in one; only the periodic
	// sync can put them there.
	survived := func() bool {
		r, err := Open(testOptions(fs.CrashClone(vfs.CrashCloneCfg{})))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, b, _ := r.Get([]byte("b"), nil)
		_, w, _ := r.Get([]byte("w"), nil)
		return b && w
	}
	waitFor(t, "a periodic sync to make both writes durable", survived)
	if m := s.Metrics(); m.Syncs == 0 || m.SyncWrites != 0 {
		t.Fatalf("Syncs=%d SyncWrites=%d; want only periodic syncs", m.Syncs, m.SyncWrites)
	}
}

// TestLargeRoundSyncsAllItsBatches commits one round far larger than a
// Pebble batch: its one fsync (on the last batch) must make every batch of
// the round durable.
func TestLargeRoundSyncsAllItsBatches(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s := mustOpen(t, testOptions(fs)) // 4 MiB memtable: 1 MiB batches
	const n, size = 600, 8 << 10
	for i := range n {
		key := fmt.Sprintf("k%04d", i)
		if err := s.Set([]byte(key), crashValue(key, 1, size), Buffered); err != nil {
			t.Fatal(err)
		}
	}
	mustFlush(t, s)
	m := s.Metrics()
	if m.Rounds != 1 || m.Syncs != 1 || m.RoundBytes < 4*uint64(s.w.maxBatch) {
		t.Fatalf("Rounds=%d Syncs=%d RoundBytes=%d; want one synced round of several %d-byte batches",
			m.Rounds, m.Syncs, m.RoundBytes, s.w.maxBatch)
	}
	r := mustOpen(t, testOptions(fs.CrashClone(vfs.CrashCloneCfg{})))
	count := 0
	err := r.Scan(nil, nil, func(k, v []byte) bool {
		if _, err := decodeCrashValue(string(k), v); err != nil {
			t.Error(err)
		}
		count++
		return true
	})
	if err != nil || count != n {
		t.Fatalf("recovered %d of %d keys (%v)", count, n, err)
	}
}
