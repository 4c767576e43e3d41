// Package ringclient gives Go programs client-driven coordination: it
// learns the ring from any node ("admin ring" over the memcached text
// protocol) and sends each key straight to the first node of its
// preference list, saving the forward a non-owner node would make
// (Dynamo §6.4: client-driven coordination cut the 99.9th percentile read
// latency from 68.9 to 30.4 ms at Amazon).
//
// A Router picks the node; it also implements gomemcache's ServerSelector,
// so a stock github.com/bradfitz/gomemcache client becomes ring-aware with
// memcache.NewFromSelector(router). Refresh re-reads the ring; a request
// to a node that is down fails like any memcached request, and a client
// that retries through another node gets server-driven coordination.
package ringclient

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
)

// ErrNoRing: the node answered but has no ring (not a cluster node, or
// still starting).
var ErrNoRing = errors.New("ringclient: node has no ring")

// Router maps keys to the client address of their coordinator.
type Router struct {
	seeds []string
	state atomic.Pointer[routing]
}

type routing struct {
	ring     *ring.Ring
	addrs    map[string]net.Addr // member ID → client address
	addrText map[string]string   // the same, as text
	all      []net.Addr
}

// New fetches the ring from the first seed (client addresses) that answers.
func New(ctx context.Context, seeds ...string) (*Router, error) {
	r := &Router{seeds: seeds}
	return r, r.Refresh(ctx)
}

// Refresh re-reads the ring from the seeds and the members it knows.
func (r *Router) Refresh(ctx context.Context) error {
	candidates := append([]string(nil), r.seeds...)
	if st := r.state.Load(); st != nil {
		for _, a := range st.all {
			candidates = append(candidates, a.String())
		}
	}
	var errs []error
	for _, addr := range candidates {
		st, err := fetch(ctx, addr)
		if err == nil {
			r.state.Store(st)
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return errors.Join(errs...)
}

// Version is the ring version the router routes by.
func (r *Router) Version() uint64 { return r.state.Load().ring.Version() }

// Route returns the client address of the first node of key's preference
// list.
func (r *Router) Route(key []byte) (net.Addr, error) {
	st := r.state.Load()
	id := st.ring.Owner(st.ring.Partition(ring.HashKey(key)))
	a, ok := st.addrs[id]
	if !ok {
		return nil, fmt.Errorf("ringclient: no client address for %s", id)
	}
	return a, nil
}

// RouteAddr is Route as "host:port" text, without allocating; "" when the
// owner's address is unknown.
func (r *Router) RouteAddr(key []byte) string {
	st := r.state.Load()
	return st.addrText[st.ring.Owner(st.ring.Partition(ring.HashKey(key)))]
}

// PickServer implements gomemcache's ServerSelector.
func (r *Router) PickServer(key string) (net.Addr, error) { return r.Route([]byte(key)) }

// Each implements gomemcache's ServerSelector.
func (r *Router) Each(fn func(net.Addr) error) error {
	for _, a := range r.state.Load().all {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// Addrs lists every member's client address.
func (r *Router) Addrs() []string {
	st := r.state.Load()
	out := make([]string, len(st.all))
	for i, a := range st.all {
		out[i] = a.String()
	}
	return out
}

func fetch(ctx context.Context, addr string) (*routing, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(5 * time.Second))
	}
	if _, err := c.Write([]byte("admin ring\r\n")); err != nil {
		return nil, err
	}
	st := &routing{addrs: map[string]net.Addr{}, addrText: map[string]string{}}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "END" {
			break
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "STAT "), " ")
		if !ok || !strings.HasPrefix(line, "STAT ") {
			return nil, fmt.Errorf("ringclient: unexpected answer %q", line)
		}
		switch {
		case name == "ring":
			b, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				return nil, fmt.Errorf("ringclient: ring encoding: %w", err)
			}
			if st.ring, err = ring.Decode(b); err != nil {
				return nil, err
			}
		case strings.HasPrefix(name, "client:"):
			a, err := net.ResolveTCPAddr("tcp", value)
			if err != nil {
				return nil, err
			}
			st.addrs[strings.TrimPrefix(name, "client:")] = a
			st.addrText[strings.TrimPrefix(name, "client:")] = a.String()
			st.all = append(st.all, a)
		}
	}
	if st.ring == nil {
		return nil, ErrNoRing
	}
	return st, nil
}
