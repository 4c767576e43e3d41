package server

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
)

// BenchmarkServerGet measures pipelined gets through the real server over
// loopback (client and server share the machine, so this is a shape, not
// a capacity figure). Sub-benchmarks vary connections and pipeline depth.
func BenchmarkServerGet(b *testing.B) {
	for _, bc := range []struct {
		name         string
		conns, depth int
	}{{"conns=1/depth=1", 1, 1}, {"conns=1/depth=16", 1, 16}, {"conns=8/depth=16", 8, 16}} {
		b.Run(bc.name, func(b *testing.B) {
			kv := fakekv.New(nil)
			s, err := New(kv, Options{Listen: "127.0.0.1:0"})
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = s.Serve() }()
			<-s.Ready()
			defer func() { _ = s.Shutdown(b.Context()) }()
			seed, _ := net.Dial("tcp", s.Addr().String())
			_, _ = io.WriteString(seed, "set k 0 0 100\r\n"+strings.Repeat("v", 100)+"\r\n")
			_, _ = bufio.NewReader(seed).ReadString('\n')
			seed.Close()
			req := strings.Repeat("get k\r\n", bc.depth)
			reply := len("VALUE k 0 100\r\n") + 102 + len("END\r\n")
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/(bc.conns*bc.depth) + 1
			for range bc.conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := net.Dial("tcp", s.Addr().String())
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					buf := make([]byte, reply*bc.depth)
					for range per {
						if _, err := io.WriteString(c, req); err != nil {
							b.Error(err)
							return
						}
						if _, err := io.ReadFull(c, buf); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
