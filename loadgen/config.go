package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/evloop"
	"github.com/dynamo-kv/dynamo/loadgen/sla"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
)

// Errors returned by Run and Compare; test with errors.Is.
var (
	// ErrConfig is an invalid Config.
	ErrConfig = errors.New("loadgen: invalid configuration")
	// ErrConnect means a target could not be reached at start-up.
	ErrConnect = errors.New("loadgen: cannot connect")
	// ErrPreload means preloading the key space failed.
	ErrPreload = errors.New("loadgen: preload failed")
)

// Dialer opens a connection to addr; tests inject in-memory transports.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// Config describes a run. Zero fields take the defaults named on each;
// EnsureDefaults applies them and Validate checks the result.
type Config struct {
	// Targets are host:port addresses speaking the memcached text protocol,
	// or tls://host:port for a port that speaks it over TLS (TLSScheme).
	// Connections are spread over them round-robin. Required.
	Targets []string
	// Conns is the number of connections. Default 16.
	Conns int
	// Workers is the number of workers the connections are grouped into;
	// each worker keeps one set of histograms. Default min(Conns, GOMAXPROCS).
	Workers int
	// Pipeline is the most requests outstanding on one connection. Default 1.
	Pipeline int
	// Duration is the measured window. Default 10s, unless Ops is set, in
	// which case zero means no time limit.
	Duration time.Duration
	// Ops ends the run after this many measured operations over all
	// connections (whichever of Ops and Duration comes first). Default 0: none.
	Ops int64
	// Warmup runs the workload this long before measuring; its results are
	// discarded. Default 0.
	Warmup time.Duration
	// Rate, when positive, makes the run open-loop at this many operations
	// per second in total. Default 0: closed loop.
	Rate float64
	// Mix weighs the operations. Default get=9,set=1.
	Mix workload.Mix
	// Keys is the key distribution; Keys.Keys defaults to 100,000 and
	// Keys.Distribution to uniform.
	Keys workload.KeySpec
	// KeyPrefix is prepended to the decimal key index. Default "key:".
	KeyPrefix string
	// ValueSize is the size of values written. Default 100 bytes.
	ValueSize workload.SizeRange
	// Exptime is the expiration sent with writes, memcached style. Default 0.
	Exptime int64
	// Preload writes keys [0, Preload) before the warm-up. Default 0.
	Preload uint64
	// PreloadPipeline is the pipeline depth of the preload. Default 64.
	PreloadPipeline int
	// CartItems is the size at which a cart is checked out and restarted.
	// Default 20.
	CartItems int
	// Timeout fails a request when its connection makes no progress this
	// long; the connection is then re-established. Default 5s.
	Timeout time.Duration
	// DialTimeout bounds each connection attempt. Default 3s.
	DialTimeout time.Duration
	// Seed makes the workload reproducible. Default 1.
	Seed uint64
	// SLA rules are judged at the end of the run.
	SLA []sla.Rule
	// Progress receives a line per second while running; nil for none.
	Progress io.Writer
	// Dial opens connections. Default: TCP with DialTimeout, and TLS for
	// a tls:// target (a Dial given here sees the tls:// prefix itself).
	Dial Dialer
	// TLS configures the client side of tls:// targets: the CAs trusted,
	// a client certificate. Default nil: the system's CAs, no client
	// certificate. TLS connections run on goroutines (IOGoroutines):
	// the epoll driver reads raw sockets.
	TLS *tls.Config
	// Auth, "user:password", logs every connection in with memcached's
	// ASCII authentication (a set carrying "user password") before any
	// request. Default "": no login.
	Auth string
	// IO selects how closed-loop connections are driven. Default IOAuto.
	IO IOMode
	// Label names the run in reports (compare mode sets it to the target's name).
	Label string
	// RingAware routes each key to the first node of its preference list,
	// learning the ring and the nodes from the targets (client-driven
	// coordination, protocol/ringclient). Connections are spread evenly
	// over the nodes and each draws only keys its node coordinates, which
	// is exact for uniform keys; with skewed keys every node still gets
	// the same share of operations.
	RingAware bool
}

// IOMode selects the closed-loop driver.
type IOMode string

// The drivers. Open-loop runs always use goroutines: their sender is paced
// by timers, not by replies.
const (
	// IOAuto uses IOEpoll where the platform and the connections allow it
	// (Linux, real sockets) and IOGoroutines elsewhere.
	IOAuto IOMode = "auto"
	// IOEpoll drives each worker's connections from one thread with epoll,
	// like memcaslap's and memtier's libevent loops.
	IOEpoll IOMode = "epoll"
	// IOGoroutines drives each connection from its own goroutine through
	// Go's netpoller.
	IOGoroutines IOMode = "goroutines"
)

// DefaultKeys is the key-space size when a Config names none.
const DefaultKeys = 100_000

const (
	defaultConns     = 16
	defaultDuration  = 10 * time.Second
	defaultPrefix    = "key:"
	defaultPreloadPL = 64
	defaultCartItems = 20
	defaultTimeout   = 5 * time.Second
	defaultDialTO    = 3 * time.Second
)

// EnsureDefaults fills zero fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.Conns == 0 {
		c.Conns = defaultConns
	}
	if c.Workers == 0 {
		c.Workers = min(c.Conns, runtime.GOMAXPROCS(0))
	}
	if c.Pipeline == 0 {
		c.Pipeline = 1
	}
	if c.Duration == 0 && c.Ops == 0 {
		c.Duration = defaultDuration
	}
	if c.Mix == (workload.Mix{}) {
		c.Mix = workload.DefaultMix
	}
	if c.Keys.Keys == 0 {
		c.Keys.Keys = DefaultKeys
	}
	if c.Keys.Distribution == "" {
		c.Keys.Distribution = workload.Uniform
	}
	if c.Keys.ZipfTheta == 0 {
		c.Keys.ZipfTheta = 0.99
	}
	if c.Keys.HotKeyFraction == 0 {
		c.Keys.HotKeyFraction = 0.2
	}
	if c.Keys.HotOpFraction == 0 {
		c.Keys.HotOpFraction = 0.8
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = defaultPrefix
	}
	if c.ValueSize == (workload.SizeRange{}) {
		c.ValueSize = workload.DefaultSize
	}
	if c.PreloadPipeline == 0 {
		c.PreloadPipeline = defaultPreloadPL
	}
	if c.CartItems == 0 {
		c.CartItems = defaultCartItems
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = defaultDialTO
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.IO == "" {
		c.IO = IOAuto
	}
	if c.Dial == nil {
		d := &net.Dialer{Timeout: c.DialTimeout}
		c.Dial = func(ctx context.Context, target string) (net.Conn, error) {
			addr, useTLS := SplitTarget(target)
			nc, err := d.DialContext(ctx, "tcp", addr)
			if err != nil || !useTLS {
				return nc, err
			}
			tc, err := tlsconf.Handshake(ctx, nc, addr, c.TLS)
			if err != nil {
				return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
			}
			return tc, nil
		}
	}
}

// Validate reports the first invalid field, naming it.
func (c *Config) Validate() error {
	for _, check := range []struct {
		bad bool
		msg string
	}{
		{len(c.Targets) == 0, "no target given"},
		{c.Conns < 1 || c.Conns > 100_000, fmt.Sprintf("conns %d must be in 1..100000", c.Conns)},
		{c.Workers < 1 || c.Workers > c.Conns, fmt.Sprintf("workers %d must be in 1..conns (%d)", c.Workers, c.Conns)},
		{c.Pipeline < 1 || c.Pipeline > 100_000, fmt.Sprintf("pipeline %d must be in 1..100000", c.Pipeline)},
		{c.Duration < 0, "duration must not be negative"},
		{c.Ops < 0, "ops must not be negative"},
		{c.Ops > 0 && c.Ops < int64(c.Conns), fmt.Sprintf("ops %d must be at least conns (%d)", c.Ops, c.Conns)},
		{c.Warmup < 0, "warmup must not be negative"},
		{c.Rate < 0 || c.Rate > 1e9, fmt.Sprintf("rate %g must be in 0..1e9 ops/s", c.Rate)},
		{c.Preload > c.Keys.Keys, fmt.Sprintf("preload %d exceeds the key space (%d keys)", c.Preload, c.Keys.Keys)},
		{c.PreloadPipeline < 1, "preload pipeline must be positive"},
		{c.CartItems < 1, "cart items must be positive"},
		{c.Timeout < 0 && c.Timeout != -1, "timeout must be positive (or -1 for none)"},
		{strings.ContainsAny(c.KeyPrefix, " \t\r\n"), fmt.Sprintf("key prefix %q contains whitespace", c.KeyPrefix)},
		{len(c.KeyPrefix)+20 > 250, "key prefix too long: keys would exceed 250 bytes"},
		{c.IO != IOAuto && c.IO != IOEpoll && c.IO != IOGoroutines, fmt.Sprintf("io %q must be auto, epoll or goroutines", c.IO)},
		{c.IO == IOEpoll && !evloop.Supported, "io epoll is not available on " + runtime.GOOS},
		{c.Auth != "" && !strings.Contains(c.Auth, ":"), "auth must be user:password"},
		{c.IO == IOEpoll && c.Rate > 0, "io epoll drives closed loop only; open loop (rate > 0) uses goroutines"},
	} {
		if check.bad {
			return fmt.Errorf("%w: %s", ErrConfig, check.msg)
		}
	}
	for _, t := range c.Targets {
		addr, useTLS := SplitTarget(t)
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%w: target %q is not host:port or tls://host:port", ErrConfig, t)
		}
		if useTLS && c.RingAware {
			return fmt.Errorf("%w: ring-aware routing speaks plain TCP; target %q is TLS", ErrConfig, t)
		}
	}
	if err := c.Mix.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := c.ValueSize.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if _, err := workload.NewKeyChooser(c.Keys); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// OpenLoop reports whether the run is paced by Rate.
func (c *Config) OpenLoop() bool { return c.Rate > 0 }

// Params is the workload part of a Config, as recorded in reports.
type Params struct {
	Targets      []string `json:"targets"`
	Conns        int      `json:"conns"`
	Workers      int      `json:"workers"`
	Pipeline     int      `json:"pipeline"`
	Duration     string   `json:"duration"`
	Ops          int64    `json:"ops,omitempty"`
	Warmup       string   `json:"warmup"`
	Rate         float64  `json:"rate,omitempty"`
	Mix          string   `json:"mix"`
	Keys         uint64   `json:"keys"`
	Distribution string   `json:"distribution"`
	ZipfTheta    float64  `json:"zipf_theta,omitempty"`
	Scrambled    bool     `json:"scrambled,omitempty"`
	HotKeys      float64  `json:"hot_key_fraction,omitempty"`
	HotOps       float64  `json:"hot_op_fraction,omitempty"`
	KeyPrefix    string   `json:"key_prefix"`
	ValueSize    string   `json:"value_size"`
	Preload      uint64   `json:"preload"`
	CartItems    int      `json:"cart_items,omitempty"`
	Timeout      string   `json:"timeout"`
	Seed         uint64   `json:"seed"`
	GOMAXPROCS   int      `json:"gomaxprocs"`
	RingAware    bool     `json:"ring_aware,omitempty"`
	// IO is the driver the connections started on: epoll, goroutines, or
	// epoll+goroutines when only some connections could use the event loop.
	IO string `json:"io"`
}

// Params returns the reportable parameters of c.
func (c *Config) Params() Params {
	p := Params{
		Targets: c.Targets, Conns: c.Conns, Workers: c.Workers, Pipeline: c.Pipeline,
		Duration: c.Duration.String(), Ops: c.Ops, Warmup: c.Warmup.String(), Rate: c.Rate,
		Mix: c.Mix.String(), Keys: c.Keys.Keys, Distribution: string(c.Keys.Distribution),
		KeyPrefix: c.KeyPrefix, ValueSize: c.ValueSize.String(), Preload: c.Preload,
		Timeout: c.Timeout.String(), Seed: c.Seed, GOMAXPROCS: runtime.GOMAXPROCS(0),
		RingAware: c.RingAware,
	}
	switch c.Keys.Distribution {
	case workload.Zipfian:
		p.ZipfTheta, p.Scrambled = c.Keys.ZipfTheta, c.Keys.Scrambled
	case workload.HotSpot:
		p.HotKeys, p.HotOps = c.Keys.HotKeyFraction, c.Keys.HotOpFraction
	}
	if c.Mix[workload.Cart] > 0 {
		p.CartItems = c.CartItems
	}
	return p
}

// TLSScheme marks a target that speaks TLS: tls://host:port.
const TLSScheme = "tls://"

// SplitTarget returns a target's host:port and whether it speaks TLS.
func SplitTarget(target string) (addr string, useTLS bool) {
	return strings.CutPrefix(target, TLSScheme)
}

// login authenticates nc with memcached's ASCII mechanism (cred is
// "user:password") within ctx's deadline.
func login(ctx context.Context, nc net.Conn, cred string) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	user, pass, _ := strings.Cut(cred, ":")
	return memcache.Login(nc, user, pass)
}
