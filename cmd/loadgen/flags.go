package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/dynamo-kv/dynamo/cmd/internal/buildinfo"
	"github.com/dynamo-kv/dynamo/loadgen"
	"github.com/dynamo-kv/dynamo/loadgen/report"
	"github.com/dynamo-kv/dynamo/loadgen/sla"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
)

// invocation is everything the command line (and a profile) asked for.
type invocation struct {
	cfg        loadgen.Config
	compare    []loadgen.NamedTarget
	rounds     int
	jsonPath   string
	hgrmPrefix string
	svgPath    string
	serve      string
	serveNull  bool
	maxErrors  shareFlag // the share of failed operations a run may have and still pass
}

// options holds flag values that need converting into the Config.
type options struct {
	targets, compare, dist, profile, nullServer, fakeServer string
	quiet                                                   bool
	sla                                                     slaFlag
	tls, tlsInsecure                                        bool
	tlsCA, tlsCert, tlsKey                                  string
}

// parseInvocation reads args on top of the profile they name, if any:
// flags given explicitly override the profile.
func parseInvocation(args []string, stderr io.Writer) (*invocation, error) {
	inv := &invocation{rounds: 3, maxErrors: defaultMaxErrors}
	prof, err := profileFrom(args)
	if err != nil {
		return nil, err
	}
	var o options
	if prof != nil {
		inv.cfg = prof.Config
		inv.compare, o.sla.rules = prof.Compare, prof.SLA
		if prof.Rounds > 0 {
			inv.rounds = prof.Rounds
		}
	}
	// Unset fields stay zero so that Run applies the defaults that depend
	// on other fields (workers on conns, duration on ops).
	fs := newFlagSet(inv, &o)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only; see -help)", fs.Arg(0))
	}
	preloadSet := false
	fs.Visit(func(f *flag.Flag) { preloadSet = preloadSet || f.Name == "preload" })
	if !preloadSet && prof == nil {
		defaultPreload(&inv.cfg)
	}
	return inv, o.apply(inv, stderr)
}

// defaultPreload makes a workload that reads start from a full key space:
// without it a run of the default mix (9 gets to 1 set) measured mostly
// misses, which cost a store nothing. Workloads that only write, and the
// shopping cart (its carts start empty by design), are left as they are;
// -preload 0 turns it off, and a profile says for itself.
func defaultPreload(cfg *loadgen.Config) {
	mix := cfg.Mix
	if mix == (workload.Mix{}) {
		mix = workload.DefaultMix
	}
	if mix[workload.Get] == 0 {
		return
	}
	cfg.Preload = cfg.Keys.Keys
	if cfg.Preload == 0 {
		cfg.Preload = loadgen.DefaultKeys
	}
}

func (o *options) apply(inv *invocation, stderr io.Writer) error {
	cfg := &inv.cfg
	if o.targets != "" {
		cfg.Targets = splitList(o.targets)
	}
	cfg.Keys.Distribution = workload.Distribution(o.dist)
	cfg.SLA = o.sla.rules
	if !o.quiet {
		cfg.Progress = stderr
	}
	if o.nullServer != "" || o.fakeServer != "" {
		inv.serve, inv.serveNull = o.fakeServer, o.nullServer != ""
		if inv.serveNull {
			inv.serve = o.nullServer
		}
		return nil
	}
	if o.compare != "" {
		targets, err := loadgen.ParseNamedTargets(o.compare)
		if err != nil {
			return err
		}
		inv.compare = targets
	}
	if err := o.applyTLS(inv); err != nil {
		return err
	}
	if len(inv.compare) > 0 {
		cfg.Targets = nil
		return nil
	}
	if len(cfg.Targets) == 0 {
		return fmt.Errorf("no target: give -target HOST:PORT, -compare or -profile (see -help)")
	}
	return nil
}

func newFlagSet(inv *invocation, o *options) *flag.FlagSet {
	cfg := &inv.cfg
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	buildinfo.Register(fs)
	fs.SetOutput(io.Discard) // errors are reported in one line by the caller
	o.targets = strings.Join(cfg.Targets, ",")
	o.dist = string(cfg.Keys.Distribution)
	fs.StringVar(&o.profile, "profile", "", "`FILE`: TOML profile (perf/NAME.toml) with [workload], [sla], [compare], [cluster]; flags given explicitly override it")
	fs.StringVar(&o.targets, "target", o.targets, "memcached-protocol targets `HOST:PORT[,HOST:PORT...]`; connections are spread over them")
	fs.StringVar(&o.compare, "compare", "", "compare mode: `NAME=HOST:PORT,NAME=HOST:PORT`; the same workload runs against each in alternation")
	fs.IntVar(&inv.rounds, "rounds", inv.rounds, "compare mode: rounds per target; medians over rounds are reported")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured window (0 with -ops: no time limit)")
	fs.Int64Var(&cfg.Ops, "ops", cfg.Ops, "stop after this many measured operations in total (0: by -duration only)")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "run this long before measuring; excluded from results")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "open loop at this many ops/s in total, latency from each request's scheduled start (0: closed loop)")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "connections (per target in compare mode)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "workers the connections are grouped into, each with its own histograms (default min(conns, GOMAXPROCS))")
	fs.IntVar(&cfg.Pipeline, "pipeline", cfg.Pipeline, "most requests outstanding per connection")
	fs.Var(mixFlag{&cfg.Mix}, "mix", "operation `weights`, e.g. get=10,set=1 (memtier's --ratio=1:10) or cart=1 for the getv/putv shopping cart")
	fs.Uint64Var(&cfg.Keys.Keys, "keys", cfg.Keys.Keys, "key-space size")
	fs.StringVar(&cfg.KeyPrefix, "key-prefix", cfg.KeyPrefix, "key prefix; keys are PREFIX<index>")
	fs.StringVar(&o.dist, "dist", o.dist, "key `distribution`: uniform, zipfian or hotspot")
	fs.Float64Var(&cfg.Keys.ZipfTheta, "zipf-theta", cfg.Keys.ZipfTheta, "zipfian constant (P(rank k) ~ 1/k^theta), as YCSB")
	fs.BoolVar(&cfg.Keys.Scrambled, "scrambled", cfg.Keys.Scrambled, "zipfian: spread the popular keys over the key space")
	fs.Float64Var(&cfg.Keys.HotKeyFraction, "hot-keys", cfg.Keys.HotKeyFraction, "hotspot: fraction of keys that are hot")
	fs.Float64Var(&cfg.Keys.HotOpFraction, "hot-ops", cfg.Keys.HotOpFraction, "hotspot: fraction of operations on hot keys")
	fs.Var(sizeFlag{&cfg.ValueSize}, "value-size", "value `bytes`: N, or MIN-MAX for uniform sizes")
	fs.Int64Var(&cfg.Exptime, "exptime", cfg.Exptime, "expiration sent with writes (memcached semantics)")
	fs.Uint64Var(&cfg.Preload, "preload", cfg.Preload, "set keys 0..N-1 before the warm-up (default: the whole key space when the mix has gets; 0: none)")
	fs.IntVar(&cfg.CartItems, "cart-items", cfg.CartItems, "cart: items at which a cart is checked out and restarted")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "fail requests after this long without progress; the connection is re-established")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "workload random seed")
	fs.Func("io", "closed-loop `driver`: auto (epoll on Linux for real sockets), epoll (one event-loop thread per worker, like memcaslap's libevent) or goroutines (one per connection on Go's netpoller) (default \"auto\")", func(v string) error {
		cfg.IO = loadgen.IOMode(v)
		return nil
	})
	fs.Var(&o.sla, "sla", "SLA `rules`, repeatable or comma-separated: [OP[+OP]:]pNN<DURATION, max<D, mean<D, errors<P%; e.g. p99.9<5ms,get:p99<1ms; failed ops count as infinitely slow; exit status 1 if missed")
	fs.Var(&inv.maxErrors, "max-errors", "`SHARE` of operations that may fail (P% or a fraction) before the run fails with exit status 1, SLA or not; 100% never fails a run")
	fs.StringVar(&inv.jsonPath, "json", "", "write the JSON summary to `FILE`")
	fs.StringVar(&inv.hgrmPrefix, "hgrm", "", "write HdrHistogram percentile distributions (microseconds) to `PREFIX`.OP.hgrm")
	fs.StringVar(&inv.svgPath, "svg", "", "write an SVG of latency by percentile, throughput over time and the slowest request per second to `FILE`")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line on stderr")
	fs.BoolVar(&cfg.RingAware, "ring-aware", cfg.RingAware, "client-driven coordination: learn the ring from the -target nodes and send each key to the first node of its preference list")
	fs.StringVar(&cfg.Auth, "auth", cfg.Auth, "log every connection in as `USER:PASSWORD` with memcached's ASCII authentication (a server started with -auth-file, or memcached -Y)")
	fs.BoolVar(&o.tls, "tls", false, "speak TLS to every target; targets written tls://HOST:PORT speak it whatever this says")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "CA certificates `FILE` (PEM) that signed the targets' certificates (default: the system's); implies -tls unless some target is written tls://")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "client certificate `FILE` (PEM) for targets that verify clients; implies -tls like -tls-ca")
	fs.StringVar(&o.tlsKey, "tls-key", "", "private key `FILE` (PEM) of -tls-cert")
	fs.BoolVar(&o.tlsInsecure, "tls-insecure", false, "do not verify the targets' certificates; implies -tls like -tls-ca")
	fs.StringVar(&o.nullServer, "null-server", "", "instead of generating load, serve `ADDR` answering every request at once without storing (to measure loadgen's own ceiling)")
	fs.StringVar(&o.fakeServer, "fake-server", "", "instead of generating load, serve an in-memory fake store (get/set/delete/getv/putv) on `ADDR`")
	return fs
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: loadgen -target HOST:PORT[,HOST:PORT...] [-duration D | -ops N] [-json FILE] [workload flags]
       loadgen -profile perf/NAME.toml [flags overriding the profile]
       loadgen -compare A=HOST:PORT,B=HOST:PORT [-rounds N] [workload flags]

Drives memcached text-protocol targets and reports throughput, latency
percentiles per operation (HdrHistogram), failures by class, siblings seen
by the cart workload, loadgen's own CPU use and the SLA verdict.
Exit status: 0 ok; 1 SLA missed, or more operations failed than -max-errors
allows (or none succeeded); 2 bad input or unreachable target; 3 failure.

flags:`)
	var inv invocation
	inv.rounds, inv.maxErrors = 3, defaultMaxErrors
	inv.cfg.EnsureDefaults()
	inv.cfg.Workers = 0 // depends on -conns; the help text says how
	var o options
	fs := newFlagSet(&inv, &o)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type mixFlag struct{ m *workload.Mix }

func (f mixFlag) String() string {
	if f.m == nil {
		return ""
	}
	return f.m.String()
}

func (f mixFlag) Set(s string) error {
	m, err := workload.ParseMix(s)
	if err != nil {
		return err
	}
	*f.m = m
	return nil
}

type sizeFlag struct{ s *workload.SizeRange }

func (f sizeFlag) String() string {
	if f.s == nil {
		return ""
	}
	return f.s.String()
}

func (f sizeFlag) Set(s string) error {
	r, err := workload.ParseSizeRange(s)
	if err != nil {
		return err
	}
	*f.s = r
	return nil
}

// slaFlag accumulates rules; the first use on the command line replaces
// the profile's rules instead of adding to them.
type slaFlag struct {
	rules []sla.Rule
	set   bool
}

func (f *slaFlag) String() string {
	var parts []string
	for _, r := range f.rules {
		parts = append(parts, r.Text)
	}
	return strings.Join(parts, ",")
}

func (f *slaFlag) Set(s string) error {
	rules, err := sla.Parse(s, report.KindNames())
	if err != nil {
		return err
	}
	if !f.set {
		f.rules, f.set = nil, true
	}
	f.rules = append(f.rules, rules...)
	return nil
}

// defaultMaxErrors: a run with more than 0.1 % of its operations failed
// measured something other than the target serving them.
const defaultMaxErrors = shareFlag(0.001)

// shareFlag is a share in [0, 1], written as P% or as a fraction.
type shareFlag float64

func (f shareFlag) String() string {
	return strconv.FormatFloat(100*float64(f), 'g', -1, 64) + "%"
}

func (f *shareFlag) Set(s string) error {
	t := strings.TrimSpace(s)
	scale := 1.0
	if p, ok := strings.CutSuffix(t, "%"); ok {
		t, scale = p, 0.01
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v*scale < 0 || v*scale > 1 {
		return fmt.Errorf("%q is not a share between 0 and 1 (or 0%% and 100%%)", s)
	}
	*f = shareFlag(v * scale)
	return nil
}

// applyTLS builds the TLS client configuration and, with -tls, marks every
// target as TLS.
func (o *options) applyTLS(inv *invocation) error {
	cfg := &inv.cfg
	anyTLS := o.tlsCA != "" || o.tlsCert != "" || o.tlsKey != "" || o.tlsInsecure
	explicit := slices.ContainsFunc(cfg.Targets, isTLS) ||
		slices.ContainsFunc(inv.compare, func(t loadgen.NamedTarget) bool { return isTLS(t.Addr) })
	if o.tls || (anyTLS && !explicit) {
		for i, t := range cfg.Targets {
			if _, ok := loadgen.SplitTarget(t); !ok {
				cfg.Targets[i] = loadgen.TLSScheme + t
			}
		}
		for i, t := range inv.compare {
			if _, ok := loadgen.SplitTarget(t.Addr); !ok {
				inv.compare[i].Addr = loadgen.TLSScheme + t.Addr
			}
		}
	}
	if !anyTLS {
		return nil
	}
	tc, err := tlsconf.Client(o.tlsCA, o.tlsCert, o.tlsKey, o.tlsInsecure)
	if err != nil {
		return err
	}
	cfg.TLS = tc
	return nil
}

func isTLS(target string) bool { _, ok := loadgen.SplitTarget(target); return ok }
