package profile

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/dynamo-kv/dynamo/loadgen"
	"github.com/dynamo-kv/dynamo/loadgen/report"
	"github.com/dynamo-kv/dynamo/loadgen/sla"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
)

// ErrProfile is returned (wrapped, with the file and the offending key) for
// a profile that cannot be used.
var ErrProfile = errors.New("profile: invalid")

// Profile is a loaded, validated profile.
type Profile struct {
	// Config holds the workload; fields the file leaves out are zero, so
	// loadgen's defaults apply.
	Config loadgen.Config
	// SLA are the parsed [sla] rules.
	SLA []sla.Rule
	// Compare and Rounds come from [compare]; Compare is nil without it.
	Compare []loadgen.NamedTarget
	Rounds  int
	// Cluster is the [cluster] table, nil when absent.
	Cluster *Cluster
}

// Cluster is the cluster a profile is meant to run against. loadgen
// validates it for the launcher and does not act on it.
type Cluster struct {
	N               int           // replicas per key
	R               int           // read quorum
	W               int           // write quorum
	Durability      string        // buffered, wal or sync
	DurableReplicas int           // replicas that write durably before acknowledging (0..N)
	WriteBuffer     int64         // write-buffer bytes per node
	FlushInterval   time.Duration // how often buffered writes are flushed
}

// file mirrors the TOML layout. Durations are strings so that a bare
// integer (which TOML would read as nanoseconds) is an error, not a
// surprise.
type file struct {
	Workload struct {
		Targets        []string `toml:"targets"`
		Duration       string   `toml:"duration"`
		Warmup         string   `toml:"warmup"`
		Ops            int64    `toml:"ops"`
		Rate           float64  `toml:"rate"`
		Conns          int      `toml:"conns"`
		Workers        int      `toml:"workers"`
		Pipeline       int      `toml:"pipeline"`
		Mix            string   `toml:"mix"`
		Keys           uint64   `toml:"keys"`
		KeyPrefix      string   `toml:"key_prefix"`
		Distribution   string   `toml:"distribution"`
		ZipfTheta      float64  `toml:"zipf_theta"`
		Scrambled      bool     `toml:"scrambled"`
		HotKeyFraction float64  `toml:"hot_key_fraction"`
		HotOpFraction  float64  `toml:"hot_op_fraction"`
		ValueSize      string   `toml:"value_size"`
		Exptime        int64    `toml:"exptime"`
		Preload        uint64   `toml:"preload"`
		CartItems      int      `toml:"cart_items"`
		Timeout        string   `toml:"timeout"`
		Seed           uint64   `toml:"seed"`
	} `toml:"workload"`
	SLA struct {
		Rules []string `toml:"rules"`
	} `toml:"sla"`
	Compare *struct {
		Targets []string `toml:"targets"`
		Rounds  int      `toml:"rounds"`
	} `toml:"compare"`
	Cluster *struct {
		N                int    `toml:"n"`
		R                int    `toml:"r"`
		W                int    `toml:"w"`
		Durability       string `toml:"durability"`
		DurableReplicas  int    `toml:"durable_replicas"`
		WriteBufferBytes int64  `toml:"write_buffer_bytes"`
		FlushInterval    string `toml:"flush_interval"`
	} `toml:"cluster"`
}

// Load reads and validates the profile at path.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProfile, err)
	}
	p, err := Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse reads and validates a profile's text.
func Parse(text string) (*Profile, error) {
	var f file
	md, err := toml.Decode(text, &f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrProfile, oneLine(err))
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return nil, fmt.Errorf("%w: unknown key %q", ErrProfile, undecoded[0].String())
	}
	p := &Profile{}
	for _, step := range []func(*file, *Profile) error{workloadFrom, slaFrom, compareFrom, clusterFrom} {
		if err := step(&f, p); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProfile, err)
		}
	}
	return p, nil
}

func workloadFrom(f *file, p *Profile) error {
	w, c := &f.Workload, &p.Config
	c.Targets, c.Ops, c.Rate, c.Conns, c.Workers, c.Pipeline = w.Targets, w.Ops, w.Rate, w.Conns, w.Workers, w.Pipeline
	c.Keys = workload.KeySpec{Distribution: workload.Distribution(w.Distribution), Keys: w.Keys, ZipfTheta: w.ZipfTheta,
		Scrambled: w.Scrambled, HotKeyFraction: w.HotKeyFraction, HotOpFraction: w.HotOpFraction}
	c.KeyPrefix, c.Exptime, c.Preload, c.CartItems, c.Seed = w.KeyPrefix, w.Exptime, w.Preload, w.CartItems, w.Seed
	for _, d := range []struct {
		key string
		in  string
		out *time.Duration
	}{{"workload.duration", w.Duration, &c.Duration}, {"workload.warmup", w.Warmup, &c.Warmup}, {"workload.timeout", w.Timeout, &c.Timeout}} {
		if err := parseDuration(d.key, d.in, d.out); err != nil {
			return err
		}
	}
	if w.Mix != "" {
		m, err := workload.ParseMix(w.Mix)
		if err != nil {
			return fmt.Errorf("workload.mix: %w", err)
		}
		c.Mix = m
	}
	if w.ValueSize != "" {
		s, err := workload.ParseSizeRange(w.ValueSize)
		if err != nil {
			return fmt.Errorf("workload.value_size: %w", err)
		}
		c.ValueSize = s
	}
	if c.Keys.Distribution != "" {
		spec := c.Keys
		spec.Keys = max(spec.Keys, 1000)
		if _, err := workload.NewKeyChooser(spec); err != nil {
			return fmt.Errorf("workload.distribution: %w", err)
		}
	}
	return nil
}

func slaFrom(f *file, p *Profile) error {
	if len(f.SLA.Rules) == 0 {
		return nil
	}
	rules, err := sla.Parse(strings.Join(f.SLA.Rules, ","), report.KindNames())
	if err != nil {
		return fmt.Errorf("sla.rules: %w", err)
	}
	p.SLA = rules
	return nil
}

func compareFrom(f *file, p *Profile) error {
	if f.Compare == nil {
		return nil
	}
	targets, err := loadgen.ParseNamedTargets(strings.Join(f.Compare.Targets, ","))
	if err != nil {
		return fmt.Errorf("compare.targets: %w", err)
	}
	if f.Compare.Rounds < 0 {
		return fmt.Errorf("compare.rounds %d must be positive", f.Compare.Rounds)
	}
	p.Compare, p.Rounds = targets, f.Compare.Rounds
	return nil
}

func clusterFrom(f *file, p *Profile) error {
	fc := f.Cluster
	if fc == nil {
		return nil
	}
	c := &Cluster{N: fc.N, R: fc.R, W: fc.W, Durability: fc.Durability, DurableReplicas: fc.DurableReplicas,
		WriteBuffer: fc.WriteBufferBytes}
	if err := parseDuration("cluster.flush_interval", fc.FlushInterval, &c.FlushInterval); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	p.Cluster = c
	return nil
}

// Validate checks the cluster settings against each other.
func (c *Cluster) Validate() error {
	switch {
	case c.N < 1 || c.N > 64:
		return fmt.Errorf("cluster.n %d must be in 1..64", c.N)
	case c.R < 1 || c.R > c.N:
		return fmt.Errorf("cluster.r %d must be in 1..n (%d)", c.R, c.N)
	case c.W < 1 || c.W > c.N:
		return fmt.Errorf("cluster.w %d must be in 1..n (%d)", c.W, c.N)
	case c.Durability != "buffered" && c.Durability != "wal" && c.Durability != "sync":
		return fmt.Errorf("cluster.durability %q must be buffered, wal or sync", c.Durability)
	case c.DurableReplicas < 0 || c.DurableReplicas > c.N:
		return fmt.Errorf("cluster.durable_replicas %d must be in 0..n (%d)", c.DurableReplicas, c.N)
	case c.WriteBuffer < 0:
		return fmt.Errorf("cluster.write_buffer_bytes %d must not be negative", c.WriteBuffer)
	case c.FlushInterval < 0:
		return fmt.Errorf("cluster.flush_interval %v must not be negative", c.FlushInterval)
	}
	return nil
}

func parseDuration(key, s string, out *time.Duration) error {
	if s == "" {
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%s %q is not a duration such as \"30s\"", key, s)
	}
	*out = d
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
