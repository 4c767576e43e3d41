package store

import (
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// The benchmarks run on the real disk (b.TempDir) so that Sync pays for
// real fsyncs. Run them with:
//
//	go test -run '^$' -bench . -benchmem ./engine/store/

const benchValueLen = 128

func benchOptions(b *testing.B) Options {
	return Options{Dir: b.TempDir(), CacheBytes: 64 << 20}
}

// benchKey writes a unique 16-byte key for (worker, i) into buf.
func benchKey(buf []byte, worker, i uint64) []byte {
	buf = binary.BigEndian.AppendUint64(buf[:0], worker)
	return binary.BigEndian.AppendUint64(buf, i)
}

// runWriters calls write with fresh keys from one goroutine, or from
// `writers` goroutines (GOMAXPROCS is 2 on the development machine, so
// SetParallelism(writers/2) gives that many).
func runWriters(b *testing.B, writers int, write func(key []byte) error) {
	b.ReportAllocs()
	if writers == 1 {
		var key [16]byte
		for i := uint64(0); b.Loop(); i++ {
			if err := write(benchKey(key[:], 0, i)); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var workers atomic.Uint64
	b.SetParallelism(max(1, writers/2))
	b.RunParallel(func(pb *testing.PB) {
		var key [16]byte
		w := workers.Add(1)
		for i := uint64(0); pb.Next(); i++ {
			if err := write(benchKey(key[:], w, i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSet measures writes per mode with one writer and with 64
// concurrent writers; with 64, Sync writers share fsyncs (group commit).
func BenchmarkSet(b *testing.B) {
	for _, mode := range modes {
		for _, writers := range []int{1, 64} {
			b.Run(mode.String()+"/writers="+strconv.Itoa(writers), func(b *testing.B) {
				s, err := Open(benchOptions(b))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				value := make([]byte, benchValueLen)
				runWriters(b, writers, func(key []byte) error { return s.Set(key, value, mode) })
				b.StopTimer()
				m := s.Metrics()
				b.ReportMetric(float64(m.Syncs)/float64(b.N), "syncs/op")
				b.ReportMetric(float64(m.Stalls)/float64(b.N), "stalls/op")
				if m.Rounds > 0 {
					b.ReportMetric(float64(m.RoundEntries)/float64(m.Rounds), "entries/round")
				}
			})
		}
	}
}

// BenchmarkPebbleDirect is the baseline without the store: the callers
// commit to Pebble themselves, and Pebble's commit pipeline groups
// concurrent syncs.
func BenchmarkPebbleDirect(b *testing.B) {
	for _, wo := range []*pebble.WriteOptions{pebble.NoSync, pebble.Sync} {
		name := "nosync"
		if wo.Sync {
			name = "sync"
		}
		for _, writers := range []int{1, 64} {
			b.Run(name+"/writers="+strconv.Itoa(writers), func(b *testing.B) {
				opts := benchOptions(b).withDefaults()
				cache := pebble.NewCache(opts.CacheBytes)
				defer cache.Unref()
				db, err := pebble.Open(opts.Dir, pebbleOptions(&opts, cache, &pebbleEvents{}, new(atomic.Pointer[error]), nil))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				value := make([]byte, benchValueLen)
				runWriters(b, writers, func(key []byte) error { return db.Set(key, value, wo) })
			})
		}
	}
}

// BenchmarkGet compares a read served by the buffer with one served by
// Pebble (memtable and block cache after a flush).
func BenchmarkGet(b *testing.B) {
	const keys = 10000
	for _, from := range []string{"buffer", "pebble"} {
		b.Run("from="+from, func(b *testing.B) {
			opts := benchOptions(b)
			opts.FlushInterval = 1 << 62 // only Flush moves data
			s, err := Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var key [16]byte
			value := make([]byte, benchValueLen)
			for i := range uint64(keys) {
				if err := s.Set(benchKey(key[:], 0, i), value, Buffered); err != nil {
					b.Fatal(err)
				}
			}
			if from == "pebble" {
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			if got, want := s.Metrics().BufferEntries == 0, from == "pebble"; got != want {
				b.Fatalf("buffer empty = %v, want %v", got, want)
			}
			dst := make([]byte, 0, benchValueLen)
			b.ReportAllocs()
			i := uint64(0)
			for b.Loop() {
				i = (i + 7919) % keys
				v, found, err := s.Get(benchKey(key[:], 0, i), dst[:0])
				if err != nil || !found || len(v) != benchValueLen {
					b.Fatalf("Get: %d bytes, %v, %v", len(v), found, err)
				}
			}
		})
	}
}
