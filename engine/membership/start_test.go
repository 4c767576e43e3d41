package membership

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
)

func TestConfigErrors(t *testing.T) {
	base := func() Config {
		return Config{NodeID: "a", GossipAddr: "127.0.0.1:0", Timing: TestTiming()}
	}
	long := strings.Repeat("x", 256)
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want error
	}{
		{"empty ID", func(c *Config) { c.NodeID = "" }, ErrConfig},
		{"long ID", func(c *Config) { c.NodeID = long }, ErrConfig},
		{"long zone", func(c *Config) { c.Zone = long }, ErrConfig},
		{"negative weight", func(c *Config) { c.Weight = -1 }, ErrConfig},
		{"bad gossip address", func(c *Config) { c.GossipAddr = "localhost" }, ErrConfig},
		{"bad advertise address", func(c *Config) { c.AdvertiseAddr = "1.2.3.4:x" }, ErrConfig},
		{"secret key length", func(c *Config) { c.SecretKey = make([]byte, 10) }, ErrConfig},
		{"partitions", func(c *Config) { c.Ring.Partitions = 3 }, ErrConfig},
		{"negative timing", func(c *Config) { c.Timing.Reconcile = -time.Second }, ErrConfig},
		{"metadata too large", func(c *Config) {
			c.Zone = strings.Repeat("z", 255)
			c.InternodeAddr = strings.Repeat("i", 120) + ":1"
			c.ClientAddr = strings.Repeat("c", 120) + ":2"
		}, ErrMetaTooLarge},
		{"saved ring", func(c *Config) { c.SavedRing = []byte("DRNG junk") }, ErrSavedRing},
	} {
		cfg := base()
		tc.edit(&cfg)
		m, err := Start(cfg)
		if err == nil {
			_ = m.Shutdown()
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Start = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestLongestConfigStarts: the largest metadata Config accepts does not
// trip memberlist's 512-byte panic, with the longest ID as well.
func TestLongestConfigStarts(t *testing.T) {
	c := newCluster(t, true)
	cfg := c.config(strings.Repeat("n", ring.MaxNameLen), "")
	cfg.Zone = strings.Repeat("z", ring.MaxNameLen)
	cfg.InternodeAddr = strings.Repeat("i", 100)
	cfg.ClientAddr = ""
	for checkMetaSize(cfg.Zone, cfg.InternodeAddr, cfg.ClientAddr+"c") == nil {
		cfg.ClientAddr += "c"
	}
	a := c.start(cfg)
	b := c.node("b", a)
	waitConverged(t, []string{cfg.NodeID, "b"}, a, b)
	if err := a.SetZone(cfg.Zone + "z"); !errors.Is(err, ErrConfig) && !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("SetZone past the limit = %v", err)
	}
}

// TestDuplicateIDRefused: a second node with a live node's ID is refused,
// whichever seed it goes through, and the cluster keeps the first.
func TestDuplicateIDRefused(t *testing.T) {
	c := newCluster(t, false)
	// Below, b must look alive throughout: slower failure detection, so a
	// loaded machine cannot make it look dead.
	c.timing.ProbeTimeout, c.timing.SuspicionMult = 300*time.Millisecond, 6
	a := c.node("a")
	b := c.node("b", a)
	waitConverged(t, []string{"a", "b"}, a, b)
	for _, seed := range []*Membership{a, b} {
		cfg := c.config("b", "", seed.GossipAddr())
		m, err := Start(cfg)
		if err == nil {
			_ = m.Shutdown()
			t.Fatalf("a second b started through %s", seed.self)
		}
		if !errors.Is(err, ErrDuplicateID) {
			t.Fatalf("second b through %s: %v, want ErrDuplicateID", seed.self, err)
		}
	}
	// The cluster still has the first b, alive at its own address, for a
	// few failure-detection rounds.
	deadline := time.Now().Add(10 * c.timing.ProbeInterval)
	for time.Now().Before(deadline) {
		if m := a.View().Members["b"]; !m.Alive || m.GossipAddr != b.GossipAddr() {
			t.Fatalf("a sees b as %+v, want alive at %s", m, b.GossipAddr())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitConverged(t, []string{"a", "b"}, a, b)
}

func TestNoSeedAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	c := newCluster(t, false)
	c.timing.JoinTimeout = 300 * time.Millisecond
	start := time.Now()
	m, err := Start(c.config("a", "", dead))
	if err == nil {
		_ = m.Shutdown()
	}
	if !errors.Is(err, ErrNoSeed) || !strings.Contains(err.Error(), dead) {
		t.Fatalf("Start = %v, want ErrNoSeed naming %s", err, dead)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("Start took %v to give up", took)
	}
}

func TestSecretKey(t *testing.T) {
	c := newCluster(t, false)
	c.timing.JoinTimeout = 500 * time.Millisecond
	key := []byte("0123456789abcdef")
	cfgA := c.config("a", "")
	cfgA.SecretKey = key
	a := c.start(cfgA)
	cfgB := c.config("b", "", a.GossipAddr())
	cfgB.SecretKey = key
	b := c.start(cfgB)
	waitConverged(t, []string{"a", "b"}, a, b)

	cfgC := c.config("c", "", a.GossipAddr())
	cfgC.SecretKey = []byte("fedcba9876543210")
	if m, err := Start(cfgC); !errors.Is(err, ErrNoSeed) {
		if err == nil {
			_ = m.Shutdown()
		}
		t.Fatalf("node with another key: %v, want ErrNoSeed", err)
	}
}

// TestRingConfig: a node whose saved ring has another partition count
// cannot join; a fresh joiner takes the cluster's configuration.
func TestRingConfig(t *testing.T) {
	c := newCluster(t, true)
	a := c.node("a")

	other := mustRing(t, ring.Config{Partitions: 128, Replicas: 3}, "b")
	cfg := c.config("b", "", a.GossipAddr())
	cfg.SavedRing = other.Encode()
	if m, err := Start(cfg); !errors.Is(err, ErrRingConfig) {
		if err == nil {
			_ = m.Shutdown()
		}
		t.Fatalf("saved ring with Q=128 joining Q=64: %v, want ErrRingConfig", err)
	}

	cfg = c.config("c", "", a.GossipAddr())
	cfg.Ring = ring.Config{Partitions: 256, Replicas: 2}
	cc := c.start(cfg)
	r := waitConverged(t, []string{"a", "c"}, a, cc)
	if r.Config() != smallRing {
		t.Fatalf("joined ring has %+v, want the cluster's %+v", r.Config(), smallRing)
	}
}
