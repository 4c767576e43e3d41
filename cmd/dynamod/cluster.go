package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster"
	"github.com/dynamo-kv/dynamo/engine/hlc"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/membership"
	"github.com/dynamo-kv/dynamo/engine/record"
	"github.com/dynamo-kv/dynamo/protocol/wire"
	"github.com/dynamo-kv/dynamo/ring"
)

// clusterNode is everything cluster mode adds around the engine: the
// internode server and pool, gossip membership, and the coordinator that
// the memcached front end talks to.
type clusterNode struct {
	*cluster.Node
	eng     *engine.Engine
	members *membership.Membership
	pool    *wire.Pool // replication, reads, hints, anti-entropy
	fwdPool *wire.Pool // forwarded writes, on connections of their own
	wsrv    *wire.Server
	topo    topology
	logger  *log.Logger
	cancel  func()

	leaveOnce sync.Once
	leaving   atomic.Bool
}

// topology turns membership views into the coordinator's Topology.
type topology struct {
	p atomic.Pointer[cluster.Topology]
}

func (t *topology) Topology() *cluster.Topology { return t.p.Load() }

func (t *topology) set(v *membership.View) {
	topo := &cluster.Topology{Ring: v.Ring, Self: v.Self, Addrs: map[string]string{}, Alive: map[string]bool{}}
	for id, m := range v.Members {
		if m.InternodeAddr != "" {
			topo.Addrs[id] = m.InternodeAddr
		}
		topo.Alive[id] = m.Alive
	}
	t.p.Store(topo)
}

func startCluster(cfg config, eng *engine.Engine, logger *log.Logger) (*clusterNode, error) {
	c := &clusterNode{eng: eng, logger: logger}
	c.topo.p.Store(&cluster.Topology{Self: cfg.NodeID})
	var err error
	if c.pool, err = wire.NewPool(wire.Options{}); err != nil {
		return nil, err
	}
	if c.fwdPool, err = wire.NewPool(wire.Options{}); err != nil {
		c.pool.Close()
		return nil, err
	}
	c.Node, err = cluster.New(eng, &c.topo, c.pool, cluster.Options{N: cfg.N, R: cfg.R, W: cfg.W,
		DurableReplicas: cfg.DurableReplicas, Forward: c.fwdPool})
	if err != nil {
		c.pool.Close()
		c.fwdPool.Close()
		return nil, err
	}
	l, err := net.Listen("tcp", cfg.Internode)
	if err != nil {
		c.Node.Close()
		c.pool.Close()
		c.fwdPool.Close()
		return nil, fmt.Errorf("internode address: %w", err)
	}
	if c.wsrv, err = wire.NewServer(c.Node.Handler(), wire.ServerOptions{Types: cluster.ServerTypes()}); err != nil {
		l.Close()
		return nil, err
	}
	go c.wsrv.Serve(l)

	ringFile := filepath.Join(cfg.Data, "ring")
	saved, _ := os.ReadFile(ringFile) // absent on first start
	peersFile := filepath.Join(cfg.Data, "peers")
	peers := loadPeers(peersFile, logger)
	var seeds []string
	if cfg.Join != "" {
		seeds = strings.Split(cfg.Join, ",")
	}
	key, err := gossipKey(cfg.GossipKeyFile)
	if err != nil {
		c.stop()
		return nil, err
	}
	c.members, err = membership.Start(membership.Config{
		SecretKey: key,
		NodeID:    cfg.NodeID, Zone: cfg.Zone, Weight: cfg.Weight,
		GossipAddr: cfg.Gossip, InternodeAddr: l.Addr().String(), ClientAddr: cfg.Listen,
		Seeds: seeds, SavedRing: saved, Peers: peers,
		Ring: ring.Config{Partitions: cfg.Partitions, Replicas: cfg.N},
	})
	if err != nil {
		c.stop()
		return nil, err // membership errors name themselves
	}
	var persisted atomic.Pointer[ring.Ring]
	var savedPeers atomic.Pointer[string]
	apply := func(v *membership.View) {
		c.topo.set(v)
		// Save on any change of ring, not only of version: a ring adopted
		// by the tie-break has the version of the one it replaced.
		if v.Ring != nil && (persisted.Load() == nil || !v.Ring.Equal(persisted.Load())) {
			persisted.Store(v.Ring)
			if err := writeFileAtomic(ringFile, v.Ring.Encode()); err != nil {
				logger.Printf("saving the ring: %v", err)
			}
		}
		// And the members' gossip addresses: a node restarted without
		// -join (the first node, say) finds its cluster through them.
		if b, err := json.Marshal(c.members.Peers()); err == nil {
			if last := savedPeers.Load(); last == nil || *last != string(b) {
				s := string(b)
				savedPeers.Store(&s)
				if err := writeFileAtomic(peersFile, b); err != nil {
					logger.Printf("saving the peers: %v", err)
				}
			}
		}
	}
	apply(c.members.View())
	c.cancel = c.members.Subscribe(apply)
	return c, nil
}

// stop shuts everything down except the engine, in dependency order.
func (c *clusterNode) stop() {
	if c.cancel != nil {
		c.cancel()
	}
	if c.members != nil {
		if err := c.members.Shutdown(); err != nil {
			c.logger.Printf("gossip shutdown: %v", err)
		}
	}
	// Stop serving peers first, so no forwarded write starts background
	// work after the node has waited for its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	c.wsrv.Shutdown(ctx)
	cancel()
	c.Node.Close()
	c.pool.Close()
	c.fwdPool.Close()
}

// Admin implements kv.Admin for dynctl.
func (c *clusterNode) Admin(args []string) ([]kv.Stat, error) {
	v := c.members.View()
	switch args[0] {
	case "status":
		return c.status(v), nil
	case "ring":
		return c.ringStats(v), nil
	case "hints":
		counts := map[string]int{}
		if err := c.eng.ScanHints(func(owner string, _ []byte) bool { counts[owner]++; return true }); err != nil {
			return nil, err
		}
		var out []kv.Stat
		for owner, n := range counts {
			out = append(out, kv.Stat{Name: "hints:" + owner, Value: strconv.Itoa(n)})
		}
		return out, nil
	case "digest":
		return c.digests(args[1:])
	case "record":
		return c.record(args[1:])
	case "leave":
		c.leaveOnce.Do(func() {
			c.leaving.Store(true)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := c.members.Leave(ctx); err != nil {
					c.logger.Printf("leave: %v", err)
					return
				}
				c.logger.Printf("left the ring; handing data off to the new owners")
			}()
		})
		return []kv.Stat{{Name: "leaving", Value: v.Self}}, nil
	}
	return nil, fmt.Errorf("%w: %q (status, ring, hints, digest, record, leave)", kv.ErrAdminUsage, args[0])
}

// record answers "admin record KEY" with this node's own record of the
// key, decoded: its clock and every version, visible or not. For
// operators and tests looking at why replicas differ.
func (c *clusterNode) record(args []string) ([]kv.Stat, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("%w: record needs one key", kv.ErrAdminUsage)
	}
	raw, found, err := c.eng.Record([]byte(args[0]), nil)
	if err != nil {
		return nil, err
	}
	if !found {
		return []kv.Stat{{Name: "record", Value: "none"}}, nil
	}
	var r record.Record
	if err := record.Decode(&r, raw); err != nil {
		return nil, err
	}
	out := []kv.Stat{{Name: "digest", Value: strconv.FormatUint(xxhash.Sum64(raw), 16)}}
	var clock []string
	for _, e := range r.Clock {
		clock = append(clock, fmt.Sprintf("%x:%d", e.Actor, e.Counter))
	}
	out = append(out, kv.Stat{Name: "clock", Value: strings.Join(clock, ",")})
	for i, s := range r.Siblings {
		kind := "value"
		switch {
		case s.Deleted:
			kind = "tombstone"
		case s.Counter != nil:
			kind = "counter"
		}
		out = append(out, kv.Stat{Name: fmt.Sprintf("sibling:%d", i), Value: fmt.Sprintf(
			"dot=%x:%d,kind=%s,time=%s,expires=%d,bytes=%d", s.Dot.Actor, s.Dot.Counter, kind,
			hlc.Time(s.Timestamp).UTC().Format("15:04:05.000000"), s.Expires, len(s.Value))})
	}
	return out, nil
}

// digests answers "admin digest KEY..." with a 64-bit hash of each key's
// record as this node stores it ("none" when it holds none), read
// locally, with no quorum and no read repair: how a test or an operator
// sees whether the replicas of a key have converged without disturbing
// them.
func (c *clusterNode) digests(keys []string) ([]kv.Stat, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: digest needs at least one key", kv.ErrAdminUsage)
	}
	out := make([]kv.Stat, 0, len(keys))
	for _, k := range keys {
		rec, found, err := c.eng.Record([]byte(k), nil)
		if err != nil {
			return nil, fmt.Errorf("digest %q: %w", k, err)
		}
		v := "none"
		if found {
			v = strconv.FormatUint(xxhash.Sum64(rec), 16)
		}
		out = append(out, kv.Stat{Name: "digest:" + k, Value: v})
	}
	return out, nil
}

func (c *clusterNode) status(v *membership.View) []kv.Stat {
	out := []kv.Stat{{Name: "node", Value: v.Self}, {Name: "claimant", Value: v.Claimant()}}
	owned := map[string]int{}
	replicas := map[string]int{}
	if v.Ring != nil {
		out = append(out,
			kv.Stat{Name: "ring_version", Value: strconv.FormatUint(v.Ring.Version(), 10)},
			kv.Stat{Name: "partitions", Value: strconv.Itoa(v.Ring.Partitions())})
		for _, id := range v.Ring.Owners() {
			owned[id]++
		}
		for _, m := range v.Ring.Members() {
			replicas[m.ID] = len(v.Ring.Replicated(m.ID))
		}
	}
	ids := make([]string, 0, len(v.Members))
	for id := range v.Members {
		ids = append(ids, id)
	}
	sortStrings(ids)
	for _, id := range ids {
		m := v.Members[id]
		state := "down"
		switch {
		case m.Leaving:
			state = "leaving"
		case m.Alive && v.Ring != nil && !inRing(v.Ring, id):
			state = "joining"
		case m.Alive:
			state = "up"
		}
		out = append(out, kv.Stat{Name: "member:" + id, Value: fmt.Sprintf(
			"state=%s,zone=%s,weight=%g,partitions=%d,replicas=%d,client=%s,internode=%s",
			state, m.Zone, m.Weight, owned[id], replicas[id], m.ClientAddr, m.InternodeAddr)})
	}
	return out
}

// ringStats is what a ring-aware client needs: the encoded ring and every
// member's client address.
func (c *clusterNode) ringStats(v *membership.View) []kv.Stat {
	if v.Ring == nil {
		return nil
	}
	out := []kv.Stat{
		{Name: "version", Value: strconv.FormatUint(v.Ring.Version(), 10)},
		{Name: "ring", Value: encodeBase64(v.Ring.Encode())},
	}
	for _, m := range v.Ring.Members() {
		if mm, ok := v.Members[m.ID]; ok && mm.ClientAddr != "" {
			out = append(out, kv.Stat{Name: "client:" + m.ID, Value: mm.ClientAddr})
		}
	}
	return out
}

func inRing(r *ring.Ring, id string) bool {
	_, ok := r.Member(id)
	return ok
}

// loadPeers reads the members' gossip addresses saved by a previous run;
// none on a first start.
func loadPeers(path string, logger *log.Logger) map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var peers map[string]string
	if err := json.Unmarshal(b, &peers); err != nil {
		logger.Printf("ignoring %s: %v", path, err)
		return nil
	}
	return peers
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func sortStrings(s []string) { slices.Sort(s) }

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

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
