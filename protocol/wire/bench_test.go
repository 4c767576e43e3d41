package wire

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// latencies keeps the last samples of one goroutine (a ring, so memory is
// fixed whatever b.N is).
type latencies struct {
	samples []time.Duration
	n       int
}

func newLatencies() *latencies { return &latencies{samples: make([]time.Duration, 1<<16)} }

func (l *latencies) add(d time.Duration) {
	l.samples[l.n&(len(l.samples)-1)] = d
	l.n++
}

func (l *latencies) recorded() []time.Duration { return l.samples[:min(l.n, len(l.samples))] }

// reportLatency adds p50/p99/p99.9 metrics in microseconds.
func reportLatency(b *testing.B, all []time.Duration) {
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	at := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))]) / 1e3 }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(0.999), "p99.9-µs")
}

var echoHandler = HandlerFunc(func(_ context.Context, _ MsgType, payload, dst []byte) (MsgType, []byte, error) {
	return typeEchoReply, append(dst, payload...), nil
})

// BenchmarkRoundTrip measures small request/response round trips over
// loopback TCP, client and server in this process: latency with one caller,
// throughput with 64 concurrent callers multiplexed on the pool's two
// connections. ns/op with 64 callers is the inverse of throughput.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{16, 512} {
		for _, callers := range []int{1, 64} {
			b.Run(fmt.Sprintf("payload=%d/callers=%d", size, callers), func(b *testing.B) {
				benchRoundTrip(b, size, callers)
			})
		}
	}
}

func benchRoundTrip(b *testing.B, size, callers int) {
	_, addr := startServer(b, echoHandler, ServerOptions{})
	pool := newTestPool(b, Options{})
	client := pool.Client(addr)
	req := bytes.Repeat([]byte("r"), size)
	call := func(dst []byte) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, resp, err := client.Call(ctx, typeEcho, req, dst[:0])
		if err != nil || len(resp) != size {
			b.Fatalf("call: %d bytes, %v", len(resp), err)
		}
		return resp
	}
	call(nil) // dial outside the timing
	b.SetBytes(int64(2 * size))
	b.ReportAllocs()
	var mu sync.Mutex
	var all []time.Duration
	if callers == 1 {
		lat, dst := newLatencies(), make([]byte, 0, size)
		b.ResetTimer()
		for b.Loop() {
			start := time.Now()
			dst = call(dst)
			lat.add(time.Since(start))
		}
		all = lat.recorded()
	} else {
		b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			lat, dst := newLatencies(), make([]byte, 0, size)
			for pb.Next() {
				start := time.Now()
				dst = call(dst)
				lat.add(time.Since(start))
			}
			mu.Lock()
			all = append(all, lat.recorded()...)
			mu.Unlock()
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	reportLatency(b, all)
}

// BenchmarkRoundTripNoDeadline is the allocation floor: a context that
// already carries a deadline and is reused, as a coordinator's fan-out does.
func BenchmarkRoundTripNoDeadline(b *testing.B) {
	_, addr := startServer(b, echoHandler, ServerOptions{})
	pool := newTestPool(b, Options{})
	client := pool.Client(addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	req, dst := []byte("0123456789abcdef"), make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if _, dst, err = client.Call(ctx, typeEcho, req, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrameEncodeDecode(b *testing.B) {
	for _, size := range []int{16, 4096} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			payload := bytes.Repeat([]byte("p"), size)
			buf := make([]byte, 0, HeaderSize+size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendFrame(buf[:0], Header{Type: 1, ID: 42}, payload)
				h, err := ParseHeader(buf, DefaultMaxPayload)
				if err != nil {
					b.Fatal(err)
				}
				if err := h.Verify(buf[:HeaderSize], buf[HeaderSize:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCodec(b *testing.B) {
	key, value := []byte("user:000012345"), bytes.Repeat([]byte("v"), 100)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		p := AppendUvarint(buf[:0], 3)
		p = AppendUint64(p, 1<<62)
		p = AppendBytes(p, key)
		p = AppendBytes(p, value)
		d := NewDecoder(p)
		d.Uvarint()
		d.Uint64()
		d.Bytes()
		d.Bytes()
		if err := d.Finish(); err != nil {
			b.Fatal(err)
		}
	}
}
