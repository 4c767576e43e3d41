package main

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/dynamo-kv/dynamo/cmd/internal/buildinfo"
	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/admit"
	"github.com/dynamo-kv/dynamo/engine/cluster"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/membership"
	"github.com/dynamo-kv/dynamo/engine/node"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
	"github.com/dynamo-kv/dynamo/ring"
)

// config is every setting of a node. Each one is a command-line flag and,
// under the same name, a key of the optional TOML config file; the command
// line wins over the file.
type config struct {
	Listen       string
	Data         string
	Durability   kv.Durability
	BufferBytes  size
	FlushEvery   time.Duration
	SyncEvery    time.Duration
	CacheBytes   size
	RecordCache  size
	MaxConns     int
	IdleTimeout  time.Duration
	ItemSizeMax  size
	EventLoops   int
	MaxSiblings  int
	TombstoneTTL time.Duration
	Pprof        string
	Metrics      string
	TLSCert      string
	TLSKey       string
	TLSClientCA  string
	AuthFile     string

	InternodeTLSCert, InternodeTLSKey, InternodeTLSCA string
	GossipInsecure                                    bool
	LogFormat                                         string
	LogLevel                                          slog.Level
	GCPercent                                         int
	Procs                                             int

	// Cluster mode (when NodeID is set).
	NodeID          string
	Gossip          string
	Internode       string
	Join            string
	Zone            string
	Weight          float64
	N, R, W         int
	Partitions      int
	DurableReplicas int
	GossipKeyFile   string
	// Background work's admission controller.
	BackgroundTarget      time.Duration
	QueueTarget           time.Duration
	RunQueueTarget        time.Duration
	SlowRequest           time.Duration
	BackgroundUnthrottled bool
	TransferRate          int
	CompactionRate        size
	AntiEntropyCycle      time.Duration
}

// size is a byte count written as 1048576, 64k, 64m, 1g (binary units,
// case-insensitive, optional trailing "b" or "ib").
type size int64

func (s *size) String() string { return strconv.FormatInt(int64(*s), 10) }

func (s *size) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = size(n)
	return nil
}

func parseSize(v string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(v))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (examples: 1048576, 64k, 64m, 1g)", v)
	}
	return n * mult, nil
}

type durabilityFlag struct{ d *kv.Durability }

func (f durabilityFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durabilityFlag) Set(v string) error {
	d, err := kv.ParseDurability(v)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

func newFlagSet(c *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("dynamod", flag.ContinueOnError)
	buildinfo.Register(fs)
	fs.SetOutput(out)
	// The store's and the cluster's defaults are the node's (one place,
	// node.Options.EnsureDefaults); the rest are this command's.
	d := node.Options{Cluster: &node.ClusterOptions{}}
	d.EnsureDefaults()
	*c = config{
		Listen:       "127.0.0.1:11211",
		Data:         "./data",
		Durability:   d.Engine.Durability,
		BufferBytes:  size(d.Engine.BufferBytes),
		FlushEvery:   d.Engine.FlushInterval,
		SyncEvery:    100 * time.Millisecond,
		CacheBytes:   size(d.Engine.CacheBytes),
		RecordCache:  size(d.Engine.RecordCacheBytes),
		MaxConns:     1024,
		ItemSizeMax:  1 << 20,
		MaxSiblings:  d.Engine.MaxSiblings,
		TombstoneTTL: d.Engine.TombstoneTTL,
		GCPercent:    400,
		// node.Options leaves it to the cluster's defaults, 64 MiB/s.
		CompactionRate: 64 << 20,
	}
	repl := d.Cluster.Replication
	fs.String("config", "", "TOML file with any of these settings under the same names; flags given on the command line win")
	fs.StringVar(&c.Listen, "listen", c.Listen, "client address (memcached text protocol), HOST:PORT")
	fs.StringVar(&c.Data, "data", c.Data, "data directory (Pebble store and node identity); created if missing")
	fs.Var(durabilityFlag{&c.Durability}, "durability", "when a write is acknowledged: buffered (in memory, flushed within -flush-interval), wal (Pebble WAL, no fsync), sync (fsync, group commit)")
	fs.Var(&c.BufferBytes, "buffer-bytes", "write buffer capacity; writers wait when it is full")
	fs.DurationVar(&c.FlushEvery, "flush-interval", c.FlushEvery, "longest time a buffered write waits before it is written to Pebble")
	fs.DurationVar(&c.SyncEvery, "sync-interval", c.SyncEvery, "longest time committed buffered/wal writes wait for an fsync when no sync write forces one (negative: never)")
	fs.Var(&c.CacheBytes, "cache-bytes", "Pebble block cache size")
	fs.Var(&c.RecordCache, "record-cache-bytes", "in-memory cache of hot records that reads are served from (0: off)")
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "client connection limit; further connections get \"ERROR Too many open connections\" and are closed")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "close client connections idle this long (0 = never)")
	fs.Var(&c.ItemSizeMax, "item-size-max", "largest value a client may store (memcached -I)")
	fs.IntVar(&c.EventLoops, "event-loops", c.EventLoops, "network event loops (0 = one per CPU)")
	fs.IntVar(&c.MaxSiblings, "max-siblings", c.MaxSiblings, "most concurrent versions a write may leave a key with; a write that would leave more is refused (read the key and write back with its context), counted in stats (engine_sibling_cap_hits)")
	fs.IntVar(&c.GCPercent, "gc-percent", c.GCPercent, "Go GC target (GOGC): heap growth allowed between collections, in percent of the live heap; higher trades memory for fewer GC cycles and a shorter latency tail (a GOGC environment variable wins)")
	fs.IntVar(&c.Procs, "procs", c.Procs, "Go scheduler threads (GOMAXPROCS); 0 = twice the CPUs, so a worker waiting to run is scheduled by the OS in well under Go's 10 ms time slice (a GOMAXPROCS environment variable wins)")
	fs.StringVar(&c.NodeID, "node-id", "", "cluster mode: this node's unique, permanent name (empty: a single node without replication)")
	fs.StringVar(&c.Gossip, "gossip", "127.0.0.1:7946", "cluster mode: gossip address (UDP and TCP), HOST:PORT")
	fs.StringVar(&c.Internode, "internode", node.DefaultInternodeAddr, "cluster mode: internode (replication) address, HOST:PORT")
	fs.StringVar(&c.Join, "join", "", "cluster mode: gossip addresses of nodes already in the cluster, HOST:PORT[,HOST:PORT...]; empty starts a new cluster")
	fs.StringVar(&c.Zone, "zone", "", "cluster mode: failure domain (rack, availability zone); replicas spread over zones")
	fs.Float64Var(&c.Weight, "weight", d.Cluster.Membership.Weight, "cluster mode: capacity relative to other nodes; a node of weight 2 owns twice the partitions")
	fs.IntVar(&c.N, "n", repl.N, "cluster default: replicas of each key")
	fs.IntVar(&c.R, "r", repl.R, "cluster default: replicas that must answer a read")
	fs.IntVar(&c.W, "w", repl.W, "cluster default: replicas that must acknowledge a write")
	fs.IntVar(&c.Partitions, "partitions", d.Cluster.Membership.Ring.Partitions, "cluster: partitions Q (a power of two), fixed when the cluster is created")
	fs.IntVar(&c.DurableReplicas, "durable-replicas", 0, "cluster: how many replicas of each write (coordinator first) fsync it; the others use -durability")
	fs.DurationVar(&c.SlowRequest, "slow-request", 500*time.Millisecond, "cluster: log a client request that takes this long or longer, with what each replica did (at most one line a second); 0 = never")
	fs.DurationVar(&c.QueueTarget, "queue-target", 2*time.Millisecond, "cluster: p99 wait of this process's runnable goroutines for the Go scheduler over a 250ms period, past which background work backs off, on a node with clients or without; 0 = ignore it")
	fs.DurationVar(&c.RunQueueTarget, "runqueue-target", 100*time.Microsecond, "cluster: mean wait of this process's threads on the kernel's run queues per time slice over a 250ms period, past which background work backs off (the cores are oversubscribed); 0 = ignore it")
	fs.DurationVar(&c.BackgroundTarget, "background-target", 0, "cluster: client p99 that background work (hints, handoff, anti-entropy, reaping) backs off to protect; 0 = twice this node's own quiet p99, at least 2ms")
	fs.BoolVar(&c.BackgroundUnthrottled, "background-unthrottled", false, "cluster: run background work at its full rate whatever the client latency (for comparison)")
	fs.Var(&c.CompactionRate, "compaction-rate", "cluster: most bytes a second the store's compactions write while the admission controller paces them (it grants between a twentieth of it and all of it; compactions run unpaced when level 0 nears a write stall)")
	fs.IntVar(&c.TransferRate, "transfer-rate", 20000, "cluster: most records a second this node reads and moves for a new replica's catch-up pulls, as puller and as source; the controller grants a source between a twentieth of it and all of it, the puller between n twentieths and all of it")
	fs.DurationVar(&c.AntiEntropyCycle, "anti-entropy-cycle", 2*time.Minute, "cluster: anti-entropy compares every partition this node holds with another replica once in this time (longer under load); replicas that differ where no client reads converge within it")
	fs.StringVar(&c.InternodeTLSCert, "internode-tls-cert", "", "cluster: this node's certificate (PEM) for mutual TLS between nodes; with -internode-tls-key and -internode-tls-ca, only nodes holding a certificate of that CA can read or write replicas")
	fs.StringVar(&c.InternodeTLSKey, "internode-tls-key", "", "cluster: private key (PEM) of -internode-tls-cert")
	fs.StringVar(&c.InternodeTLSCA, "internode-tls-ca", "", "cluster: the cluster's CA certificate (PEM); a peer must present a certificate it signed")
	fs.BoolVar(&c.GossipInsecure, "gossip-insecure", false, "cluster: gossip in the clear on an address beyond loopback (without it, such an address needs -gossip-key-file)")
	fs.StringVar(&c.GossipKeyFile, "gossip-key-file", "", "cluster: file holding the gossip encryption key (16, 24 or 32 bytes, raw or base64), the same on every node; empty: gossip in the clear")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "client port: certificate chain (PEM) of a TLS port; with -tls-key the port speaks TLS only, as memcached's -Z")
	fs.StringVar(&c.TLSKey, "tls-key", "", "client port: private key (PEM) of -tls-cert")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", "", "client port: CA certificates (PEM); every client must present a certificate one of them signed (memcached's ssl_verify_mode 2)")
	fs.StringVar(&c.AuthFile, "auth-file", "", "client port: memcached's ASCII authentication (its -Y): a file of user:password lines; every connection must first send a set whose data is \"user password\"")
	fs.StringVar(&c.Metrics, "metrics", "", "serve Prometheus metrics at /metrics over HTTP on this address (e.g. 127.0.0.1:9150); empty: off")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log lines on stderr as text (key=value) or json")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "least severe log lines written: debug, info, warn or error")
	fs.StringVar(&c.Pprof, "pprof", "", "serve Go's pprof profiles over HTTP on this address (e.g. 127.0.0.1:6060); empty: off")
	fs.DurationVar(&c.TombstoneTTL, "tombstone-ttl", c.TombstoneTTL, "how long a delete's tombstone is kept before it is reclaimed")
	return fs
}

// errHelp is returned when -help was asked for; main exits 0.
var errHelp = flag.ErrHelp

// loadConfig parses args (and the config file they name) into a config.
func loadConfig(args []string, out io.Writer) (config, error) {
	var c config
	// Errors are reported by the caller in one line; the usage text is
	// printed only when asked for.
	fs := newFlagSet(&c, io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(out, "Usage: dynamod [flags]\n\nStarts one node of the store. Every flag may also be set in the -config TOML file.\n\nFlags:\n")
			fs.SetOutput(out)
			fs.PrintDefaults()
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if path := fs.Lookup("config").Value.String(); path != "" {
		if err := applyFile(fs, path); err != nil {
			return c, err
		}
	}
	return c, c.validate()
}

// applyFile sets every key of a TOML file that the command line did not.
func applyFile(fs *flag.FlagSet, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var m map[string]any
	if _, err := toml.Decode(string(raw), &m); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "config" || fs.Lookup(k) == nil {
			return fmt.Errorf("config file %s: unknown setting %q (see dynamod -help)", path, k)
		}
		if given[k] {
			continue
		}
		var v string
		switch x := m[k].(type) {
		case string:
			v = x
		case int64, bool, float64:
			v = fmt.Sprint(x)
		default:
			return fmt.Errorf("config file %s: setting %q has an unsupported type %T", path, k, x)
		}
		if err := fs.Set(k, v); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, k, err)
		}
	}
	return nil
}

func (c *config) validate() error {
	switch {
	case c.Data == "":
		return errors.New("-data must name a directory")
	case c.MaxConns < 1:
		return errors.New("-max-conns must be at least 1")
	case c.ItemSizeMax < 1024 || c.ItemSizeMax > 1<<30:
		return errors.New("-item-size-max must be between 1k and 1g")
	case c.NodeID != "" && (c.N < 1 || c.R < 1 || c.W < 1 || c.R > c.N || c.W > c.N):
		return fmt.Errorf("need 1 <= -r, -w <= -n (got n=%d r=%d w=%d)", c.N, c.R, c.W)
	case c.SlowRequest < 0:
		return errors.New("-slow-request must not be negative")
	case c.QueueTarget < 0 || c.RunQueueTarget < 0:
		return errors.New("-queue-target and -runqueue-target must not be negative")
	case c.BackgroundTarget < 0:
		return errors.New("-background-target must not be negative")
	case c.CompactionRate < 1<<20:
		return errors.New("-compaction-rate must be at least 1m (bytes a second)")
	case c.AntiEntropyCycle < time.Second:
		return errors.New("-anti-entropy-cycle must be at least 1s")
	case c.NodeID != "" && (c.DurableReplicas < 0 || c.DurableReplicas > c.N):
		return errors.New("-durable-replicas must be between 0 and -n")
	case c.NodeID != "" && (c.Weight <= 0 || c.Weight != c.Weight):
		return errors.New("-weight must be positive")
	case c.Procs < 0:
		return errors.New("-procs must not be negative")
	case c.EventLoops < 0:
		return errors.New("-event-loops must not be negative")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("-log-format must be text or json, not %q", c.LogFormat)
	case c.MaxSiblings < 1:
		return errors.New("-max-siblings must be at least 1")
	case c.IdleTimeout < 0, c.FlushEvery < 0, c.TombstoneTTL < 0:
		return errors.New("durations must not be negative")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case c.TLSClientCA != "" && c.TLSCert == "":
		return errors.New("-tls-client-ca needs -tls-cert and -tls-key")
	case (c.InternodeTLSCert != "" || c.InternodeTLSKey != "" || c.InternodeTLSCA != "") &&
		(c.InternodeTLSCert == "" || c.InternodeTLSKey == "" || c.InternodeTLSCA == ""):
		return errors.New("-internode-tls-cert, -internode-tls-key and -internode-tls-ca go together")
	case c.InternodeTLSCert != "" && c.NodeID == "":
		return errors.New("-internode-tls-cert needs cluster mode (-node-id)")
	case c.NodeID != "" && c.GossipKeyFile == "" && !c.GossipInsecure && !loopback(c.Gossip):
		return fmt.Errorf("-gossip %s is beyond loopback: give -gossip-key-file (the same key on every node) to encrypt gossip, or -gossip-insecure to gossip in the clear", c.Gossip)
	}
	return nil
}

// nodeOptions is the node this configuration describes.
func (c *config) nodeOptions(logger *slog.Logger) (node.Options, error) {
	o := node.Options{
		Engine: engine.Options{
			Dir:              c.Data,
			Durability:       c.Durability,
			BufferBytes:      int64(c.BufferBytes),
			FlushInterval:    c.FlushEvery,
			SyncInterval:     c.SyncEvery,
			CacheBytes:       int64(c.CacheBytes),
			RecordCacheBytes: recordCache(c.RecordCache),
			MaxSiblings:      c.MaxSiblings,
			TombstoneTTL:     c.TombstoneTTL,
		},
		Logger: logger,
	}
	if c.NodeID == "" {
		return o, nil
	}
	key, err := gossipKey(c.GossipKeyFile)
	if err != nil {
		return o, err
	}
	var internodeTLS *tls.Config
	if c.InternodeTLSCert != "" {
		if internodeTLS, err = tlsconf.Internode(c.InternodeTLSCert, c.InternodeTLSKey, c.InternodeTLSCA); err != nil {
			return o, err
		}
	}
	var seeds []string
	if c.Join != "" {
		seeds = strings.Split(c.Join, ",")
	}
	o.Cluster = &node.ClusterOptions{
		Membership: membership.Config{
			NodeID: c.NodeID, Zone: c.Zone, Weight: c.Weight,
			GossipAddr: c.Gossip, ClientAddr: c.Listen, Seeds: seeds, SecretKey: key,
			Ring: ring.Config{Partitions: c.Partitions},
		},
		Replication: cluster.Options{N: c.N, R: c.R, W: c.W, DurableReplicas: c.DurableReplicas,
			SlowRequest: slowRequest(c.SlowRequest), BackgroundTarget: c.BackgroundTarget, Queues: c.queues(), BackgroundUnthrottled: c.BackgroundUnthrottled, TransferRate: c.TransferRate,
			CompactionRate: int(c.CompactionRate), AntiEntropyCycle: c.AntiEntropyCycle},
		InternodeAddr: c.Internode,
		InternodeTLS:  internodeTLS,
	}
	return o, nil
}

// queues are the admission controller's queueing signals the flags turn
// on.
func (c *config) queues() []admit.Queue {
	var qs []admit.Queue
	if c.QueueTarget > 0 {
		qs = append(qs, admit.Queue{Name: "sched_p99", Target: c.QueueTarget, Read: admit.SchedLatencies()})
	}
	if read := admit.RunQueueWait(); c.RunQueueTarget > 0 && read != nil {
		qs = append(qs, admit.Queue{Name: "runqueue", Target: c.RunQueueTarget, Read: read})
	}
	return qs
}

// recordCache maps the flag (0 = off) to the engine option (0 = default).
func recordCache(s size) int64 {
	if s == 0 {
		return -1
	}
	return int64(s)
}

// gossipKey reads the gossip encryption key: 16, 24 or 32 raw bytes, or
// their standard base64, optionally followed by a newline.
func gossipKey(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	text := strings.TrimSpace(string(raw))
	if b, err := base64.StdEncoding.DecodeString(text); err == nil && validKeyLen(len(b)) {
		return b, nil
	}
	if validKeyLen(len(raw)) {
		return raw, nil
	}
	return nil, fmt.Errorf("gossip key %s: want 16, 24 or 32 bytes (raw or base64), got %d bytes", path, len(raw))
}

func validKeyLen(n int) bool { return n == 16 || n == 24 || n == 32 }

// logger writes this configuration's log lines to w.
func (c *config) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// slowRequest maps the flag's 0 (never) to the option's negative.
func slowRequest(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// tlsConfig is the client port's TLS configuration, nil without -tls-cert.
func (c *config) tlsConfig() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	return tlsconf.Server(c.TLSCert, c.TLSKey, c.TLSClientCA)
}

// authFile is the client port's users, nil without -auth-file.
func (c *config) authFile() (*memcache.AuthFile, error) {
	if c.AuthFile == "" {
		return nil, nil
	}
	return memcache.LoadAuthFile(c.AuthFile)
}

// loopback reports whether a HOST:PORT listens on loopback only (a name
// that is not an address, other than localhost, counts as beyond it).
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
