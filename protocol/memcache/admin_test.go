package memcache

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
)

// adminKV adds admin commands to the fake engine.
type adminKV struct {
	*fakekv.KV
	got [][]string
}

func (a *adminKV) Admin(args []string) ([]engine.Stat, error) {
	a.got = append(a.got, args)
	switch args[0] {
	case "status":
		return []engine.Stat{{Name: "node", Value: "n1"}, {Name: "member:n1", Value: "state=alive zone=a"}}, nil
	case "boom":
		return nil, errors.New("line one\nline two")
	}
	return nil, fmt.Errorf("%w: unknown %q", engine.ErrAdminUsage, args[0])
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
