package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster"
	"github.com/dynamo-kv/dynamo/engine/membership"
)

// Options configures a node. Zero fields take their layer's defaults.
type Options struct {
	// Engine is the local store. In cluster mode Open sets Replicated: a
	// replicated record goes only when every replica agrees.
	Engine engine.Options
	// Cluster, when set, makes this a cluster node; nil is a single node
	// without replication.
	Cluster *ClusterOptions
	// Logger receives the node's events and every layer's below it
	// (store, coordinator, membership). Default: discarded.
	Logger *slog.Logger
}

// ClusterOptions are the settings of a cluster node.
type ClusterOptions struct {
	// Membership is this node's identity, gossip address, seeds, zone,
	// weight and gossip key. Open fills InternodeAddr (from the listener),
	// Peers and SavedRing (from the data directory), and Ring.Replicas
	// (Replication.N).
	Membership membership.Config
	// Replication holds N, R, W, durable replicas and the coordinator's
	// timeouts and background intervals.
	Replication cluster.Options
	// InternodeAddr is the address the internode server listens on,
	// HOST:PORT (port 0 picks one). Default 127.0.0.1:7947.
	InternodeAddr string
	// Network, when set, carries the internode protocol instead of TCP:
	// the simulator's in-memory network (engine/simnet). Gossip has its
	// own, Membership.Transport.
	Network Network
	// InternodeTLS, when set, makes the internode transport mutual TLS
	// (protocol/tlsconf.Internode): only a peer holding a certificate of
	// the cluster's CA is served or dialled. Default nil: plain TCP.
	InternodeTLS *tls.Config
}

// Network is a stream network: where the internode server listens and
// how the coordinator reaches its peers.
type Network interface {
	Listen(addr string) (net.Listener, error)
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// DefaultInternodeAddr is where a cluster node listens for its peers when
// Options name no address.
const DefaultInternodeAddr = "127.0.0.1:7947"

// ErrOptions reports an invalid setting.
var ErrOptions = errors.New("node: invalid options")

// EnsureDefaults sets every zero field to its default, layer by layer.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Engine.Logger == nil {
		o.Engine.Logger = o.Logger
	}
	if c := o.Cluster; c != nil {
		o.Engine.Replicated = true
		// Before the layer's own defaults, which discard its log lines
		// when it has no logger: they did, in every dynamod, until a
		// bench-join run with -slow-request 50ms logged nothing.
		if c.Replication.Logger == nil {
			c.Replication.Logger = o.Logger
		}
		if c.Membership.Logger == nil {
			c.Membership.Logger = o.Logger
		}
		c.Replication.EnsureDefaults()
		if c.InternodeAddr == "" {
			c.InternodeAddr = DefaultInternodeAddr
		}
		if c.Membership.Weight == 0 {
			c.Membership.Weight = 1
		}
		if c.Membership.Ring.Partitions == 0 {
			c.Membership.Ring.Partitions = 1024
		}
		c.Membership.Ring.Replicas = c.Replication.N
	}
	o.Engine.EnsureDefaults()
}

// Validate reports the first setting out of range, after EnsureDefaults.
func (o *Options) Validate() error {
	if err := o.Engine.Validate(); err != nil {
		return err
	}
	c := o.Cluster
	if c == nil {
		return nil
	}
	if err := c.Replication.Validate(); err != nil {
		return err
	}
	switch {
	case o.Engine.Dir == "":
		return fmt.Errorf("%w: a cluster node needs a data directory (its ring and peers live there)", ErrOptions)
	case c.Membership.NodeID == "":
		return fmt.Errorf("%w: a cluster node needs a node ID", ErrOptions)
	case !(c.Membership.Weight > 0):
		return fmt.Errorf("%w: weight must be positive", ErrOptions)
	}
	return nil
}

// TestOptions is the preset for tests and the simulator: a node in dir
// with small caches and buffers, a tombstone TTL of a few seconds (so
// that reaping happens within a test) and, in cluster mode, gossip at
// membership.TestTiming unless cluster names a timing. Pass cluster nil
// for a single node.
func TestOptions(dir string, cluster *ClusterOptions) Options {
	if cluster != nil && cluster.Membership.Timing == (membership.Timing{}) {
		cluster.Membership.Timing = membership.TestTiming()
	}
	o := Options{
		Engine: engine.Options{
			Dir:              dir,
			BufferBytes:      4 << 20,
			CacheBytes:       8 << 20,
			RecordCacheBytes: 4 << 20,
			// Small memtables rotate the WAL often: an in-memory crashable
			// filesystem copies a whole file on every fsync.
			MemTableBytes: 1 << 20,
			TombstoneTTL:  3 * time.Second,
		},
		Cluster: cluster,
	}
	o.EnsureDefaults()
	return o
}
