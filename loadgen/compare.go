package loadgen

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/dynamo-kv/dynamo/loadgen/report"
)

// NamedTarget is one side of a comparison.
type NamedTarget struct {
	Name string
	Addr string
}

// ParseNamedTargets reads "NAME=HOST:PORT,NAME=HOST:PORT".
func ParseNamedTargets(s string) ([]NamedTarget, error) {
	var out []NamedTarget
	for _, part := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: compare target %q is not NAME=HOST:PORT", ErrConfig, part)
		}
		if hp, _ := SplitTarget(addr); !validHostPort(hp) {
			return nil, fmt.Errorf("%w: compare target %q: address is not host:port or tls://host:port", ErrConfig, part)
		}
		if slices.ContainsFunc(out, func(t NamedTarget) bool { return t.Name == name }) {
			return nil, fmt.Errorf("%w: compare target name %q used twice", ErrConfig, name)
		}
		out = append(out, NamedTarget{Name: name, Addr: addr})
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("%w: compare needs at least two targets, got %d", ErrConfig, len(out))
	}
	return out, nil
}

func validHostPort(s string) bool {
	_, _, err := net.SplitHostPort(s)
	return err == nil
}

// compareOrder describes how rounds alternate, for the report.
const compareOrder = "targets alternate within each round; the order reverses every other round (ABBA) so drift and warm caches favour no target"

// Compare runs cfg's workload against each target in turn, rounds times,
// with the same connections (cfg.Conns per target, opened once), the same
// preload and, within a round, the same operation sequence. It reports
// each target's medians over rounds. cfg.Targets and cfg.SLA must be empty.
func Compare(ctx context.Context, cfg Config, targets []NamedTarget, rounds int) (*report.Comparison, error) {
	if len(cfg.Targets) > 0 {
		return nil, fmt.Errorf("%w: compare mode takes its targets from the compare list, not from targets", ErrConfig)
	}
	if len(cfg.SLA) > 0 {
		return nil, fmt.Errorf("%w: SLA rules are not judged in compare mode; run each target alone", ErrConfig)
	}
	if rounds < 1 || rounds > 1000 {
		return nil, fmt.Errorf("%w: rounds %d must be in 1..1000", ErrConfig, rounds)
	}
	if len(targets) < 2 {
		return nil, fmt.Errorf("%w: compare needs at least two targets", ErrConfig)
	}
	for _, t := range targets {
		cfg.Targets = append(cfg.Targets, t.Addr)
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	groups, err := openGroups(ctx, &cfg, targets)
	defer func() {
		for _, g := range groups {
			g.close()
		}
	}()
	if err != nil {
		return nil, err
	}
	results := make([][]*report.Summary, len(groups))
	for r := range rounds {
		for _, i := range roundOrder(len(groups), r) {
			if ctx.Err() != nil {
				break
			}
			for _, s := range groups[i].sessions {
				s.reseed(r)
			}
			results[i] = append(results[i], groups[i].measure(ctx).Summary)
		}
	}
	names, addrs := make([]string, len(targets)), make([]string, len(targets))
	for i, t := range targets {
		names[i], addrs[i] = t.Name, t.Addr
	}
	return report.Compare(names, addrs, results, compareOrder), nil
}

// openGroups connects and preloads one group of connections per target.
// The groups are returned even on error, for the caller to close.
func openGroups(ctx context.Context, cfg *Config, targets []NamedTarget) ([]*group, error) {
	sh, err := newShared(cfg)
	if err != nil {
		return nil, err
	}
	var groups []*group
	for i, t := range targets {
		g := newGroup(cfg, sh, t.Name, []string{t.Addr}, i*cfg.Conns)
		if err := g.connect(ctx); err != nil {
			return groups, err
		}
		groups = append(groups, g)
	}
	if cfg.Preload > 0 {
		for _, g := range groups {
			if err := g.preload(ctx); err != nil {
				return groups, err
			}
		}
	}
	return groups, nil
}

// roundOrder is the order targets run in round r: forward in even rounds,
// reversed in odd ones.
func roundOrder(n, r int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if r%2 == 1 {
		slices.Reverse(order)
	}
	return order
}
