package ringclient

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dynamo-kv/dynamo/ring"
)

var _ memcache.ServerSelector = (*Router)(nil)

// serveRing answers "admin ring" as a cluster node does.
func serveRing(t *testing.T, r *ring.Ring, clients map[string]string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				if line != "admin ring\r\n" {
					fmt.Fprintf(c, "ERROR\r\n")
					return
				}
				fmt.Fprintf(c, "STAT version %d\r\nSTAT ring %s\r\n", r.Version(), base64.StdEncoding.EncodeToString(r.Encode()))
				for id, a := range clients {
					fmt.Fprintf(c, "STAT client:%s %s\r\n", id, a)
				}
				fmt.Fprintf(c, "END\r\n")
			}()
		}
	}()
	return l.Addr().String()
}

func TestRouteFollowsTheRing(t *testing.T) {
	r, err := ring.New(ring.Config{Partitions: 256, Replicas: 3}, []ring.Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}, {ID: "c", Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]string{"a": "127.0.0.1:1001", "b": "127.0.0.1:1002", "c": "127.0.0.1:1003"}
	seed := serveRing(t, r, clients)
	rt, err := New(context.Background(), "127.0.0.1:1", seed) // the first seed is down
	if err != nil {
		t.Fatal(err)
	}
	if rt.Version() != r.Version() || len(rt.Addrs()) != 3 {
		t.Fatalf("version %d, addrs %v", rt.Version(), rt.Addrs())
	}
	perNode := map[string]int{}
	for i := range 3000 {
		key := []byte(fmt.Sprint("key:", i))
		got, err := rt.Route(key)
		if err != nil {
			t.Fatal(err)
		}
		want := clients[r.Owner(r.Partition(ring.HashKey(key)))]
		if got.String() != want {
			t.Fatalf("%s routed to %s, owner is at %s", key, got, want)
		}
		perNode[got.String()]++
	}
	for a, n := range perNode {
		if n < 800 || n > 1200 {
			t.Fatalf("node %s got %d of 3000 keys", a, n)
		}
	}
}

func TestNoRing(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			bufio.NewReader(c).ReadString('\n')
			fmt.Fprintf(c, "SERVER_ERROR admin commands need a cluster node\r\n")
			c.Close()
		}
	}()
	if _, err := New(context.Background(), l.Addr().String()); err == nil {
		t.Fatal("a single node's answer was taken for a ring")
	}
}
