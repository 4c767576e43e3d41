package wiretest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

// LowAddr returns a loopback address whose port (TCP and UDP, as gossip
// binds both) is free and below the ephemeral range, for a test server.
// A client redialling a closed server's ephemeral port can be handed that
// very port for its own end and connect to itself; a port below the range
// is never handed out that way.
func LowAddr(t testing.TB) string {
	t.Helper()
	lowPorts.Lock()
	defer lowPorts.Unlock()
	// A port probed free is closed again until its server binds it, so a
	// later call could pick it too (CI saw "address already in use" when
	// two calls started from the same clock-derived port): never hand out
	// a port twice in one test binary. Test binaries running side by side
	// start at random places in the span.
	start := rand.IntN(lowPortSpan)
	for i := range lowPortSpan {
		port := lowPortBase + (start+i)%lowPortSpan
		if lowPorts.used[port] {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		lowPorts.used[port] = true
		return addr
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// Ports 21000-28999, below Linux's ephemeral range (32768 up); the perf
// scripts' clusters use 21210-21999 and run apart from the tests.
const (
	lowPortBase = 21000
	lowPortSpan = 8000
)

var lowPorts = struct {
	sync.Mutex
	used map[int]bool
}{used: map[int]bool{}}
