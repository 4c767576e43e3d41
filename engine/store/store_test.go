package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var modes = []Durability{Buffered, WAL, Sync}

func TestReadYourWrites(t *testing.T) {
	for _, mode := range modes {
		for _, where := range []string{"buffer", "pebble"} {
			t.Run(mode.String()+"/"+where, func(t *testing.T) {
				s := mustOpen(t, testOptions(vfs.NewMem()))
				settle := func() {
					if where == "pebble" {
						mustFlush(t, s)
					}
				}
				mustSet(t, s, "a", "1", mode)
				mustSet(t, s, "empty", "", mode)
				mustSet(t, s, "gone", "x", mode)
				mustDelete(t, s, "gone", mode)
				settle()
				// Buffered writes stay in the buffer until a flush; WAL and
				// Sync writes have been committed and left it.
				wantEntries := int64(0)
				if mode == Buffered && where == "buffer" {
					wantEntries = 3
				}
				if got := s.Metrics().BufferEntries; got != wantEntries {
					t.Fatalf("BufferEntries = %d, want %d", got, wantEntries)
				}
				expectGet(t, s, "a", "1", true)
				expectGet(t, s, "empty", "", true)
				expectGet(t, s, "gone", "", false)
				expectGet(t, s, "never", "", false)

				mustSet(t, s, "a", "2", mode)
				settle()
				expectGet(t, s, "a", "2", true)
			})
		}
	}
}

// op is one step of an ordering scenario.
type op struct {
	kind  string // set, del, flush, reopen
	key   string
	value string
}

func TestOrderingAcrossFlushes(t *testing.T) {
	scenarios := []struct {
		name string
		ops  []op
	}{
		{"overwrite in buffer", []op{{"set", "k", "1"}, {"set", "k", "2"}, {"flush", "", ""}}},
		{"overwrite across flush", []op{{"set", "k", "1"}, {"flush", "", ""}, {"set", "k", "2"}}},
		{"delete buffered over pebble", []op{{"set", "k", "1"}, {"flush", "", ""}, {"del", "k", ""}}},
		{"delete then flush", []op{{"set", "k", "1"}, {"flush", "", ""}, {"del", "k", ""}, {"flush", "", ""}}},
		{"set after delete", []op{{"set", "k", "1"}, {"flush", "", ""}, {"del", "k", ""}, {"flush", "", ""}, {"set", "k", "3"}}},
		{"delete then set in buffer", []op{{"set", "k", "1"}, {"flush", "", ""}, {"del", "k", ""}, {"set", "k", "4"}}},
		{"survives reopen", []op{{"set", "k", "1"}, {"set", "j", "2"}, {"reopen", "", ""}, {"del", "j", ""}, {"reopen", "", ""}}},
	}
	for _, mode := range modes {
		for _, sc := range scenarios {
			t.Run(mode.String()+"/"+sc.name, func(t *testing.T) {
				fs := vfs.NewMem()
				s := mustOpen(t, testOptions(fs))
				model := map[string]string{}
				for i, o := range sc.ops {
					switch o.kind {
					case "set":
						mustSet(t, s, o.key, o.value, mode)
						model[o.key] = o.value
					case "del":
						mustDelete(t, s, o.key, mode)
						delete(model, o.key)
					case "flush":
						mustFlush(t, s)
					case "reopen":
						if err := s.Close(); err != nil {
							t.Fatalf("Close: %v", err)
						}
						s = mustOpen(t, testOptions(fs))
					}
					for _, k := range []string{"k", "j"} {
						v, ok := model[k]
						t.Logf("step %d %v: expect %s=%q (%v)", i, o, k, v, ok)
						expectGet(t, s, k, v, ok)
					}
				}
			})
		}
	}
}

// TestStaleCaptureNeverOverwrites overwrites a key while the writer is
// committing an earlier capture of it: the newer value must stay buffered
// and win, in memory and after reopening.
func TestStaleCaptureNeverOverwrites(t *testing.T) {
	fs := vfs.NewMem()
	opts := testOptions(fs)
	var s *Store
	first := true
	opts.beforeCommit = func() {
		if first {
			first = false
			mustSet(t, s, "k", "new", Buffered)
		}
	}
	s = mustOpen(t, opts)
	mustSet(t, s, "k", "old", Buffered)
	mustFlush(t, s) // commits "old"; "new" arrives during that commit
	if got := s.Metrics().BufferEntries; got != 1 {
		t.Fatalf("BufferEntries = %d after the racing overwrite, want 1", got)
	}
	expectGet(t, s, "k", "new", true)
	mustFlush(t, s)
	expectGet(t, s, "k", "new", true)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	expectGet(t, mustOpen(t, testOptions(fs)), "k", "new", true)
}

func TestCloseFlushesBuffer(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s := mustOpen(t, testOptions(fs))
	for i := range 100 {
		mustSet(t, s, fmt.Sprintf("k%03d", i), fmt.Sprint(i), Buffered)
	}
	mustDelete(t, s, "k050", Buffered)
	if got := s.Metrics().BufferEntries; got != 100 {
		t.Fatalf("BufferEntries = %d before Close, want 100", got)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close must have made the data durable, not just visible.
	r := mustOpen(t, testOptions(fs.CrashClone(vfs.CrashCloneCfg{})))
	for i := range 100 {
		k := fmt.Sprintf("k%03d", i)
		if i == 50 {
			expectGet(t, r, k, "", false)
		} else {
			expectGet(t, r, k, fmt.Sprint(i), true)
		}
	}
}

func TestClosedStore(t *testing.T) {
	s := mustOpen(t, testOptions(vfs.NewMem()))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"Close again": s.Close(),
		"Set":         s.Set([]byte("k"), nil, Buffered),
		"Delete":      s.Delete([]byte("k"), Sync),
		"Flush":       s.Flush(),
		"Scan":        s.Scan(nil, nil, func(k, v []byte) bool { return true }),
	}
	_, _, checks["Get"] = s.Get([]byte("k"), nil)
	for name, err := range checks {
		want := ErrClosed
		if name == "Close again" {
			want = nil
		}
		if !errors.Is(err, want) && err != want {
			t.Errorf("%s after Close = %v, want %v", name, err, want)
		}
	}
	_ = s.Metrics() // must not touch the closed Pebble
}

func TestInvalidArguments(t *testing.T) {
	if _, err := Open(Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Open without Dir = %v, want ErrInvalidOptions", err)
	}
	opts := testOptions(vfs.NewMem())
	opts.BufferBytes = -1
	if _, err := Open(opts); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Open with negative BufferBytes = %v, want ErrInvalidOptions", err)
	}
	s := mustOpen(t, testOptions(vfs.NewMem()))
	if err := s.Set([]byte("k"), nil, Sync+1); !errors.Is(err, ErrInvalidDurability) {
		t.Errorf("Set with bad durability = %v, want ErrInvalidDurability", err)
	}
}

func TestDefaultDurabilityIsSync(t *testing.T) {
	s := mustOpen(t, Options{Dir: "db", FS: vfs.NewMem(), CacheBytes: 1 << 20})
	mustSet(t, s, "k", "v", DurabilityDefault)
	m := s.Metrics()
	if m.SyncWrites != 1 || m.Syncs == 0 || m.BufferEntries != 0 {
		t.Fatalf("after a default write: SyncWrites=%d Syncs=%d BufferEntries=%d; want a synced commit",
			m.SyncWrites, m.Syncs, m.BufferEntries)
	}
}

// TestGroupCommit holds the writer's first round while more Sync writers
// arrive: they must all be released by a single second fsync.
func TestGroupCommit(t *testing.T) {
	const writers = 16
	opts := testOptions(vfs.NewMem())
	release := make(chan struct{})
	var held atomic.Bool
	opts.beforeCommit = func() {
		if held.CompareAndSwap(false, true) {
			<-release
		}
	}
	s := mustOpen(t, opts)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	write := func(i int) {
		defer wg.Done()
		errs <- s.Set([]byte(fmt.Sprint("k", i)), []byte("v"), Sync)
	}
	wg.Add(1)
	go write(0)
	waitFor(t, "the first round to be captured", func() bool { return held.Load() })
	wg.Add(writers - 1)
	for i := 1; i < writers; i++ {
		go write(i)
	}
	waitFor(t, "all writers to be buffered", func() bool { return s.buf.entries.Load() == writers })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	m := s.Metrics()
	if m.SyncWrites != writers || m.Syncs != 2 || m.Rounds != 2 {
		t.Fatalf("SyncWrites=%d Syncs=%d Rounds=%d; want %d writes in 2 synced rounds",
			m.SyncWrites, m.Syncs, m.Rounds, writers)
	}
}

// TestConcurrentReadYourWrites runs writers on disjoint keys in random modes
// alongside scans and flushes; every writer must read back its own latest
// write at all times. Run it with -race.
func TestConcurrentReadYourWrites(t *testing.T) {
	opts := testOptions(vfs.NewMem())
	opts.FlushInterval = 0 // default 10 ms: exercise the timer too
	opts.BufferBytes = 256 << 10
	s := mustOpen(t, opts)
	const writers, opsEach, keysEach = 6, 400, 8

	var wg sync.WaitGroup
	errc := make(chan error, writers+2)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- ownKeysWorkload(s, w, opsEach, keysEach)
		}()
	}
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // scanner: keys must come out sorted and unique
		defer bg.Done()
		for {
			select {
			case <-stop:
				errc <- nil
				return
			default:
			}
			var last string
			var orderErr error
			err := s.Scan(nil, nil, func(k, v []byte) bool {
				if string(k) <= last {
					orderErr = fmt.Errorf("scan order: %q after %q", k, last)
					return false
				}
				last = string(k)
				return true
			})
			if err = errors.Join(err, orderErr); err != nil {
				errc <- err
				return
			}
		}
	}()
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				errc <- nil
				return
			default:
			}
			if err := s.Flush(); err != nil {
				errc <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func ownKeysWorkload(s *Store, w, ops, keys int) error {
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	model := map[string]string{}
	for i := range ops {
		k := fmt.Sprintf("w%d-k%d", w, rng.IntN(keys))
		mode := modes[rng.IntN(len(modes))]
		if rng.IntN(4) == 0 {
			if err := s.Delete([]byte(k), mode); err != nil {
				return err
			}
			delete(model, k)
		} else {
			v := fmt.Sprintf("%s-v%d-%s", k, i, make([]byte, rng.IntN(2048)))
			if err := s.Set([]byte(k), []byte(v), mode); err != nil {
				return err
			}
			model[k] = v
		}
		got, found, err := s.Get([]byte(k), nil)
		if err != nil {
			return err
		}
		want, wantFound := model[k]
		if found != wantFound || string(got) != want {
			return fmt.Errorf("writer %d op %d: Get(%q) = %d bytes, %v; want %d bytes, %v",
				w, i, k, len(got), found, len(want), wantFound)
		}
	}
	return nil
}

func TestScanMergesBufferAndPebble(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	// In Pebble: a b c d e.
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		mustSet(t, s, k, "p"+k, Buffered)
	}
	mustFlush(t, s)
	// In the buffer: b overwritten, c deleted, bb and f new, zz deleted
	// although it never existed.
	mustSet(t, s, "b", "Bb", Buffered)
	mustDelete(t, s, "c", Buffered)
	mustSet(t, s, "bb", "Bbb", Buffered)
	mustSet(t, s, "f", "Bf", Buffered)
	mustDelete(t, s, "zz", Buffered)
	if got := s.Metrics().BufferEntries; got != 5 {
		t.Fatalf("BufferEntries = %d, want 5", got)
	}
	all := []string{"a=pa", "b=Bb", "bb=Bbb", "d=pd", "e=pe", "f=Bf"}
	cases := []struct {
		name   string
		lo, hi string // "" = open
		limit  int
		want   []string
	}{
		{"everything", "", "", 0, all},
		{"lo inclusive", "b", "", 0, all[1:]},
		{"hi exclusive", "", "d", 0, all[:3]},
		{"bounds between keys", "ba", "e", 0, []string{"bb=Bbb", "d=pd"}},
		{"range holding only a delete", "c", "cz", 0, nil},
		{"range past the end", "g", "", 0, nil},
		{"early stop", "", "", 2, all[:2]},
		{"empty range", "d", "d", 0, nil},
		{"inverted range", "e", "b", 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var lo, hi []byte
			if c.lo != "" {
				lo = []byte(c.lo)
			}
			if c.hi != "" {
				hi = []byte(c.hi)
			}
			got := scanAll(t, s, lo, hi, c.limit)
			if !slices.Equal(got, c.want) {
				t.Fatalf("Scan(%q, %q) = %v, want %v", c.lo, c.hi, got, c.want)
			}
		})
	}
	// The same view once everything is in Pebble.
	mustFlush(t, s)
	if got := scanAll(t, s, nil, nil, 0); !slices.Equal(got, all) {
		t.Fatalf("Scan after flush = %v, want %v", got, all)
	}
}
