package memcache

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
)

// adminKV adds admin commands to the fake engine.
type adminKV struct {
	*fakekv.KV
	got [][]string
}

func (a *adminKV) Admin(args []string) ([]kv.Stat, error) {
	a.got = append(a.got, args)
	switch args[0] {
	case "status":
		return []kv.Stat{{Name: "node", Value: "n1"}, {Name: "member:n1", Value: "state=alive zone=a"}}, nil
	case "boom":
		return nil, errors.New("line one\nline two")
	}
	return nil, fmt.Errorf("%w: unknown %q", kv.ErrAdminUsage, args[0])
}

func TestAdminCommand(t *testing.T) {
	h := newHarness(t)
	a := &adminKV{KV: h.kv}
	h.e = NewExecutor(a, Options{Now: func() time.Time { return h.now }})
	h.expect("admin status\r\n", "STAT node n1\r\nSTAT member:n1 state=alive zone=a\r\nEND\r\n")
	h.expect("admin nope x y\r\n", "CLIENT_ERROR bad admin command: unknown \"nope\"\r\n")
	h.expect("admin boom\r\n", "SERVER_ERROR line one line two\r\n")
	h.expect("admin\r\n", "ERROR\r\n")
	if len(a.got) != 3 || strings.Join(a.got[1], ",") != "nope,x,y" {
		t.Fatalf("arguments seen: %v", a.got)
	}
	// A plain engine has no admin commands.
	h2 := newHarness(t)
	h2.expect("admin status\r\n", "SERVER_ERROR admin commands need a cluster node\r\n")
}

// quorumKV records the quorums the executor passes on.
type quorumKV struct {
	*fakekv.KV
	reads []int
	puts  []int
}

func (q *quorumKV) Get(key []byte, o *kv.Object, opt kv.ReadOptions) error {
	q.reads = append(q.reads, opt.R)
	return q.KV.Get(key, o, opt)
}

func (q *quorumKV) Put(key []byte, req *kv.PutRequest) (kv.PutResult, error) {
	q.puts = append(q.puts, req.W)
	if req.W > 3 {
		return kv.PutResult{}, kv.ErrBadQuorum
	}
	return q.KV.Put(key, req)
}

func TestQuorumFlags(t *testing.T) {
	h := newHarness(t)
	q := &quorumKV{KV: h.kv}
	h.e = NewExecutor(q, Options{Now: func() time.Time { return h.now }})
	h.expect("ms k 1 w3\r\nx\r\n", "HD\r\n")
	h.expect("mg k v r1\r\n", "VA 1\r\nx\r\n")
	h.expect("md k w2 q\r\nmn\r\n", "MN\r\n")
	h.expect("set k 0 0 1\r\ny\r\n", "STORED\r\n") // classic: default quorum
	h.expect("ms k 1 w9\r\nz\r\n", "CLIENT_ERROR quorum must be between 1 and N\r\n")
	if len(q.reads) != 1 || q.reads[0] != 1 {
		t.Fatalf("read quorums passed: %v", q.reads)
	}
	if want := []int{3, 2, 0, 9}; len(q.puts) != len(want) || q.puts[0] != 3 || q.puts[1] != 2 || q.puts[2] != 0 || q.puts[3] != 9 {
		t.Fatalf("write quorums passed: %v, want %v", q.puts, want)
	}
	h.expect("mg k r0\r\n", "CLIENT_ERROR bad token in command line format\r\n")
	h.expect("mg k w2\r\n", "CLIENT_ERROR invalid flag\r\n")
	h.expect("ms k 1 r2\r\nx\r\n", "CLIENT_ERROR invalid flag\r\n")
}
