package kv_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The packages that hold pure logic or contracts: no storage engine, no
// event loop, no gossip, no sockets. Deterministic tests and the
// simulator depend on them staying so; a new import that pulls one of
// those in fails here, not in review.
var purePackages = []string{
	"engine/kv",
	"engine/dvv",
	"engine/hlc",
	"engine/record",
	"engine/counter",
	"engine/merkle",
	"engine/quorum",
	"engine/pace",
	"engine/admit",
	"engine/cache",
	"engine/check",
	"ring",
	"protocol/memcache",
	"protocol/internal/fakekv",
}

// forbidden reports whether a dependency is I/O a pure package must not
// reach, even transitively.
func forbidden(dep string) bool {
	for _, p := range []string{
		"github.com/cockroachdb/pebble",
		"github.com/panjf2000/gnet",
		"github.com/hashicorp/memberlist",
	} {
		if strings.HasPrefix(dep, p) {
			return true
		}
	}
	return dep == "net" || strings.HasPrefix(dep, "net/")
}

func TestPurePackagesStayPure(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	const module = "github.com/dynamo-kv/dynamo/"
	for _, pkg := range purePackages {
		out, err := exec.Command(goBin, "list", "-deps", module+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if forbidden(dep) {
				t.Errorf("%s depends on %s (go list -deps %s); pure packages must not reach storage, event loops, gossip or sockets", pkg, dep, module+pkg)
			}
		}
	}
}
