package metrics

import (
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
)

// What -metrics costs a command: run the same get with and without the
// latency recorder (benchstat the two).
func BenchmarkExecuteGet(b *testing.B) {
	for _, timed := range []bool{false, true} {
		name := "untimed"
		if timed {
			name = "timed"
		}
		b.Run(name, func(b *testing.B) {
			db := fakekv.New(time.Now)
			if _, err := db.Put([]byte("user:12345678"), &kv.PutRequest{Value: make([]byte, 100), SupersedeAll: true}); err != nil {
				b.Fatal(err)
			}
			opts := memcache.Options{}
			if timed {
				opts.Latency = NewLatency()
			}
			e := memcache.NewExecutor(db, opts)
			var cmd memcache.Command
			if _, err := memcache.NewParser(0).Next([]byte("get user:12345678\r\n"), &cmd); err != nil {
				b.Fatal(err)
			}
			var s memcache.Session
			out := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				out = e.Execute(&s, &cmd, out[:0])
			}
		})
	}
}
