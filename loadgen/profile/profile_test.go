package profile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/workload"
)

const full = `
[workload]
targets = ["127.0.0.1:11211", "127.0.0.1:11212"]
duration = "30s"
warmup = "5s"
conns = 50
pipeline = 16
mix = "get=10,set=1"
keys = 100000
distribution = "zipfian"
zipf_theta = 0.9
scrambled = true
value_size = "64-1024"
preload = 100000
timeout = "2s"
seed = 7

[sla]
rules = ["p99.9<5ms", "get:p99<1ms"]

[compare]
targets = ["ours=127.0.0.1:11211", "memcached=127.0.0.1:11212"]
rounds = 5

[cluster]
n = 3
r = 2
w = 2
durability = "buffered"
durable_replicas = 1
write_buffer_bytes = 67108864
flush_interval = "100ms"
`

func TestParseFull(t *testing.T) {
	p, err := Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Config
	if len(c.Targets) != 2 || c.Duration != 30*time.Second || c.Warmup != 5*time.Second || c.Conns != 50 ||
		c.Pipeline != 16 || c.Mix[workload.Get] != 10 || c.Keys.Distribution != workload.Zipfian ||
		c.Keys.ZipfTheta != 0.9 || !c.Keys.Scrambled || c.ValueSize != (workload.SizeRange{Min: 64, Max: 1024}) ||
		c.Preload != 100000 || c.Timeout != 2*time.Second || c.Seed != 7 {
		t.Errorf("config %+v", c)
	}
	if len(p.SLA) != 2 || p.SLA[1].Ops[0] != "get" {
		t.Errorf("sla %+v", p.SLA)
	}
	if len(p.Compare) != 2 || p.Compare[1].Name != "memcached" || p.Rounds != 5 {
		t.Errorf("compare %+v rounds %d", p.Compare, p.Rounds)
	}
	want := Cluster{N: 3, R: 2, W: 2, Durability: "buffered", DurableReplicas: 1, WriteBuffer: 64 << 20,
		FlushInterval: 100 * time.Millisecond}
	if p.Cluster == nil || *p.Cluster != want {
		t.Errorf("cluster %+v", p.Cluster)
	}
}

func TestParseMinimal(t *testing.T) {
	p, err := Parse("[workload]\ntargets = [\"127.0.0.1:1\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.Cluster != nil || p.Compare != nil || p.SLA != nil || p.Config.Conns != 0 {
		t.Errorf("absent sections filled in: %+v", p)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		text, wantInMessage string
	}{
		{"[workload]\nconnz = 5\n", `unknown key "workload.connz"`},
		{"[clusterr]\nn = 3\n", `unknown key "clusterr"`},
		{"[cluster]\nn=3\nr=2\nw=2\ndurability=\"buffered\"\nflush = \"1s\"\n", `unknown key "cluster.flush"`},
		{"[workload]\nduration = 30\n", "duration"},
		{"[workload]\nduration = \"30 seconds\"\n", "workload.duration"},
		{"[workload]\nmix = \"get=a\"\n", "workload.mix"},
		{"[workload]\nvalue_size = \"9-3\"\n", "workload.value_size"},
		{"[workload]\ndistribution = \"normal\"\n", "workload.distribution"},
		{"[sla]\nrules = [\"p99.9>5ms\"]\n", "sla.rules"},
		{"[compare]\ntargets = [\"a=127.0.0.1:1\"]\n", "compare.targets"},
		{"[cluster]\nn = 3\nr = 4\nw = 2\ndurability = \"sync\"\n", "cluster.r"},
		{"[cluster]\nn = 3\nr = 2\nw = 2\ndurability = \"fsync\"\n", "cluster.durability"},
		{"[cluster]\nn = 3\nr = 2\nw = 2\ndurability = \"wal\"\ndurable_replicas = 4\n", "cluster.durable_replicas"},
		{"[workload\n", "toml"},
	} {
		_, err := Parse(tc.text)
		if !errors.Is(err, ErrProfile) || !strings.Contains(err.Error(), tc.wantInMessage) {
			t.Errorf("%q: got %v, want ErrProfile mentioning %q", tc.text, err, tc.wantInMessage)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: multi-line error %q", tc.text, err)
		}
	}
}

func TestLoad(t *testing.T) {
	p, err := Load(filepath.Join("testdata", "example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Cluster == nil || len(p.SLA) != 3 || p.Config.Preload != 100000 {
		t.Errorf("example profile: %+v", p)
	}
	path := filepath.Join(t.TempDir(), "p.toml")
	if err := os.WriteFile(path, []byte("[workload]\nconns = \"many\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrProfile) || !strings.HasPrefix(err.Error(), path) {
		t.Errorf("bad file: %v", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.toml"))
	if !errors.Is(err, ErrProfile) || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing file: %v", err)
	}
}
