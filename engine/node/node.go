package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/engine/membership"
	"github.com/dynamo-kv/dynamo/protocol/wire"
	"github.com/dynamo-kv/dynamo/ring"
)

// Files in the data directory beside the engine's, written atomically.
const (
	ringFile   = "ring"       // the ring this node last held (ring.Encode)
	peersFile  = "peers"      // the members' gossip addresses, JSON by node ID
	leftFile   = "left"       // present once asked to leave: a restart stays out of the ring until "admin rejoin"
	readyFile  = "ready-ring" // the last ring this node held every partition of (cluster.Options.ReadyRing)
	removeFile = "removing"   // node IDs this node was asked to remove ("admin remove"), one a line, until its ring has
)

// Node is one open node.
type Node struct {
	opts Options
	fs   vfs.FS
	eng  *engine.Engine

	// Cluster mode only.
	coord   *cluster.Node
	members *membership.Membership
	pool    *wire.Pool // replication, reads, hints, anti-entropy
	fwdPool *wire.Pool // forwarded writes, on connections of their own
	wsrv    *wire.Server
	topo    topology
	unsub   func()

	drainWatch   sync.Once     // one watchDrained per process, started by a leave
	removeMu     sync.Mutex    // removals and the removeFile's writers
	removals     []string      // removal requests the ring has not made yet (admin.go)
	removed      chan struct{} // closed when the cluster removes this node for good
	removeOnce   sync.Once
	closing      chan struct{} // closed when Close begins
	closeStarted atomic.Bool
	closed       chan struct{} // closed when Close has finished
	closeErr     error         // set before closed
	unlock       func()        // releases the data directory's lock (lockDir)
}

// Open opens the engine in o.Engine.Dir and, with o.Cluster, joins or
// starts the cluster. Close releases all of it.
func Open(o Options) (*Node, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	n := &Node{opts: o, fs: o.Engine.FS, closing: make(chan struct{}), closed: make(chan struct{}), removed: make(chan struct{})}
	if n.fs == nil {
		n.fs = vfs.Default
	}
	if o.Engine.Dir != "" {
		if err := n.fs.MkdirAll(o.Engine.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	n.unlock = func() {}
	if o.Engine.Dir != "" && n.fs == vfs.Default {
		release, err := lockDir(o.Engine.Dir)
		if err != nil {
			return nil, err
		}
		n.unlock = release
	}
	eng, err := engine.Open(o.Engine)
	if err != nil {
		n.unlock()
		return nil, fmt.Errorf("opening store in %s: %w", o.Engine.Dir, err)
	}
	n.eng = eng
	if o.Cluster != nil {
		if err := n.startCluster(); err != nil {
			n.stopCluster()
			eng.Close()
			n.unlock()
			return nil, fmt.Errorf("starting cluster mode: %w", err)
		}
	}
	return n, nil
}

// KV is what the front end serves: the coordinator in cluster mode (it
// also takes admin commands), else the engine.
func (n *Node) KV() kv.KV {
	if n.coord != nil {
		return clusterKV{n.coord, n}
	}
	return n.eng
}

// Engine is the node's local store.
// Removed is closed when the cluster removed this node for good
// (another node's "admin remove", while this one was cut off and
// seemed down, or a restart that reached a node not told yet): it may
// not serve under its ID any more, and it closes itself (requests then
// fail). Its data directory is left as it is, for an operator to look
// into; the node cannot rejoin from it (membership.ErrRemoved).
func (n *Node) Removed() <-chan struct{} { return n.removed }

func (n *Node) Engine() *engine.Engine { return n.eng }

// GossipAddr is the address gossip is bound to; "" for a single node.
func (n *Node) GossipAddr() string {
	if n.members == nil {
		return ""
	}
	return n.members.GossipAddr()
}

// View is this node's membership view: the ring and every member's
// liveness as gossip sees it. nil for a single node.
func (n *Node) View() *membership.View {
	if n.members == nil {
		return nil
	}
	return n.members.View()
}

// InternodeAddr is the address the internode server listens on; "" for a
// single node.
func (n *Node) InternodeAddr() string {
	if n.coord == nil {
		return ""
	}
	return n.topo.Topology().Addrs[n.opts.Cluster.Membership.NodeID]
}

// Close leaves gossip, stops serving peers, waits for the coordinator's
// background work, then closes the engine (flushing its write buffer).
// It does not hand data off: a node that closes is down, not gone (see
// the admin command leave).
//
// Concurrent calls all wait for the one that closes (on a channel, not a
// mutex: a waiter on a mutex is not durably blocked, so inside the
// simulator's synctest bubble simulated time would stop for everyone).
func (n *Node) Close() error {
	if n.closeStarted.CompareAndSwap(false, true) {
		close(n.closing)
		n.stopCluster()
		n.closeErr = n.eng.Close()
		n.unlock()
		close(n.closed)
	}
	<-n.closed
	return n.closeErr
}

// clusterKV is the coordinator with the node's admin commands.
type clusterKV struct {
	*cluster.Node
	n *Node
}

func (c clusterKV) Admin(args []string) ([]kv.Stat, error) { return c.n.admin(args) }

var _ kv.Admin = clusterKV{}

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

func (n *Node) startCluster() error {
	co := n.opts.Cluster
	log := n.opts.Logger
	n.topo.p.Store(&cluster.Topology{Self: co.Membership.NodeID})
	listen, wopts := func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }, wire.Options{}
	if co.Network != nil {
		listen, wopts.Dial = co.Network.Listen, co.Network.Dial
	}
	if co.InternodeTLS != nil {
		plainListen, plainDial := listen, wopts.Dial
		if plainDial == nil {
			plainDial = wire.TCPDialer()
		}
		failed := handshakeLog(log)
		listen = func(addr string) (net.Listener, error) {
			l, err := plainListen(addr)
			if err != nil {
				return nil, err
			}
			return wire.TLSListener(l, co.InternodeTLS, failed("accepted")), nil
		}
		wopts.Dial = wire.TLSDialer(plainDial, co.InternodeTLS, failed("dialled"))
	}
	var err error
	if n.pool, err = wire.NewPool(wopts); err != nil {
		return err
	}
	if n.fwdPool, err = wire.NewPool(wopts); err != nil {
		return err
	}
	repl := co.Replication
	repl.Forward = n.fwdPool
	if repl.Logger == nil {
		repl.Logger = n.opts.Logger
	}
	readyPath := filepath.Join(n.opts.Engine.Dir, readyFile)
	if b, err := n.readFile(readyPath); err == nil {
		if r, err := ring.Decode(b); err == nil {
			repl.ReadyRing = r
		} else {
			n.opts.Logger.Warn("ignoring a saved file that does not parse", "path", readyPath, "err", err)
		}
	}
	var readyMu sync.Mutex // one writer of the file (and of its .tmp) at a time
	readySaved := repl.ReadyRing
	repl.OnReady = func(r *ring.Ring) {
		readyMu.Lock()
		defer readyMu.Unlock()
		if readySaved != nil && (readySaved.Equal(r) || readySaved.Replaces(r)) {
			return
		}
		if err := n.writeFileAtomic(readyPath, r.Encode()); err != nil {
			n.opts.Logger.Error("saving the ring caught up to", "err", err)
			return
		}
		readySaved = r
	}
	if n.coord, err = cluster.New(n.eng, &n.topo, n.pool, repl); err != nil {
		return err
	}
	n.eng.PaceCompactions(n.coord.CompactionPacer())
	l, err := listen(co.InternodeAddr)
	if err != nil {
		return fmt.Errorf("internode address: %w", err)
	}
	if n.wsrv, err = wire.NewServer(n.coord.Handler(), wire.ServerOptions{Types: cluster.ServerTypes(), Inline: n.coord.Inline}); err != nil {
		l.Close()
		return err
	}
	go n.wsrv.Serve(l)

	dir := n.opts.Engine.Dir
	mc := co.Membership
	mc.InternodeAddr = l.Addr().String()
	if mc.Logger == nil {
		mc.Logger = n.opts.Logger
	}
	mc.SavedRing, _ = n.readFile(filepath.Join(dir, ringFile)) // absent on first start
	mc.Peers = n.loadPeers(filepath.Join(dir, peersFile))
	mc.Removals = n.loadRemovals()
	if _, err := n.fs.Stat(filepath.Join(dir, leftFile)); err == nil {
		mc.Left = true
		n.opts.Logger.Info("this node left the ring before it stopped: it stays out until asked back in (dynctl rejoin)")
	}
	if n.members, err = membership.Start(mc); err != nil {
		return err // membership errors name themselves
	}
	var persisted atomic.Pointer[ring.Ring]
	var savedPeers atomic.Pointer[string]
	apply := func(v *membership.View) {
		if v.Ring != nil && v.Ring.Removed(v.Self) {
			n.removeOnce.Do(func() {
				log.Error("this node was removed from the cluster for good; closing it")
				close(n.removed)
				go n.Close() // no more hints, handoff or anti-entropy from its old data
			})
		}
		n.topo.set(v)
		n.forgetRemovals(v.Ring)
		n.coord.NoteTopology() // every ring, before handoff sees it: see cluster's ready.go
		// Save on any change of ring, not only of version: a ring adopted
		// by the tie-break has the version of the one it replaced.
		if v.Ring != nil && (persisted.Load() == nil || !v.Ring.Equal(persisted.Load())) {
			persisted.Store(v.Ring)
			if err := n.writeFileAtomic(filepath.Join(dir, ringFile), v.Ring.Encode()); err != nil {
				log.Error("saving the ring", "err", err)
			}
		}
		// And the members' gossip addresses: a node restarted without
		// seeds (the first node, say) finds its cluster through them.
		if b, err := json.Marshal(n.members.Peers()); err == nil {
			if last := savedPeers.Load(); last == nil || *last != string(b) {
				s := string(b)
				savedPeers.Store(&s)
				if err := n.writeFileAtomic(filepath.Join(dir, peersFile), b); err != nil {
					log.Error("saving the peers", "err", err)
				}
			}
		}
	}
	apply(n.members.View())
	n.unsub = n.members.Subscribe(apply)
	if mc.Left {
		n.startDrainWatch()
	}
	return nil
}

// stopCluster shuts cluster mode down in dependency order; it tolerates a
// start that failed halfway.
func (n *Node) stopCluster() {
	if n.unsub != nil {
		n.unsub()
	}
	if n.members != nil {
		if err := n.members.Shutdown(); err != nil {
			n.opts.Logger.Warn("gossip shutdown", "err", err)
		}
	}
	// Stop serving peers first, so no forwarded write starts background
	// work after the coordinator has waited for its own.
	if n.wsrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n.wsrv.Shutdown(ctx)
		cancel()
	}
	if n.coord != nil {
		n.coord.Close()
	}
	if n.pool != nil {
		n.pool.Close()
	}
	if n.fwdPool != nil {
		n.fwdPool.Close()
	}
}

// loadPeers reads the members' gossip addresses saved by a previous run;
// none on a first start.
func (n *Node) loadPeers(path string) map[string]string {
	b, err := n.readFile(path)
	if err != nil {
		return nil
	}
	var peers map[string]string
	if err := json.Unmarshal(b, &peers); err != nil {
		n.opts.Logger.Warn("ignoring a saved file that does not parse", "path", path, "err", err)
		return nil
	}
	return peers
}

func (n *Node) readFile(path string) ([]byte, error) {
	f, err := n.fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// writeFileAtomic replaces path with b: a crash leaves the old file or the
// new one, never a torn one.
func (n *Node) writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := n.fs.Create(tmp, vfs.WriteCategoryUnspecified)
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
	if err := n.fs.Rename(tmp, path); err != nil {
		return err
	}
	d, err := n.fs.OpenDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// Coordinator is the cluster coordinator of a cluster node; nil on a
// single node.
func (n *Node) Coordinator() *cluster.Node { return n.coord }

// handshakeLog logs failed internode TLS handshakes, at most one line per
// peer and direction every 10 s: a node whose certificate another CA
// signed, or that runs without the -internode-tls flags, still joins by
// gossip, and without this line nothing says why it cannot replicate.
func handshakeLog(log *slog.Logger) func(side string) wire.HandshakeFailed {
	var mu sync.Mutex
	last := map[string]time.Time{}
	return func(side string) wire.HandshakeFailed {
		return func(peer string, err error) {
			if !certificateTrouble(err) {
				return // a reset or EOF mid-handshake: a crash or a partition, which the failure detector sees
			}
			host, _, _ := net.SplitHostPort(peer)
			key := side + " " + host
			now := time.Now()
			mu.Lock()
			quiet := now.Sub(last[key]) < 10*time.Second
			if !quiet {
				last[key] = now
			}
			mu.Unlock()
			if !quiet {
				log.Warn("internode TLS handshake failed: the peer holds no certificate of this cluster's CA, or runs without the -internode-tls flags; it cannot replicate with this node",
					"peer", peer, "side", side, "err", err)
			}
		}
	}
}

// certificateTrouble reports whether a failed handshake failed over TLS
// itself (an alert, a certificate that does not verify or is missing, a
// peer that does not speak TLS), not over the network underneath.
func certificateTrouble(err error) bool {
	var (
		alert  tls.AlertError
		verify *tls.CertificateVerificationError
		record tls.RecordHeaderError
		ca     x509.UnknownAuthorityError
		bad    x509.CertificateInvalidError
	)
	return errors.As(err, &alert) || errors.As(err, &verify) || errors.As(err, &record) ||
		errors.As(err, &ca) || errors.As(err, &bad) || strings.Contains(err.Error(), "certificate")
}
