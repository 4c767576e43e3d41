package membership

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
	"github.com/hashicorp/memberlist"
)

// DefaultGossipAddr is where memberlist listens (UDP and TCP) when
// Config.GossipAddr is empty: memberlist's own default.
const DefaultGossipAddr = "0.0.0.0:7946"

// Config describes one node. Zero fields take the documented defaults.
type Config struct {
	// NodeID names the node uniquely and forever: it is the memberlist
	// name and the ring member ID. 1 to 255 bytes (ring.MaxNameLen).
	// Required.
	NodeID string
	// Zone is the failure domain (rack, availability zone); the ring
	// spreads replicas over zones. Default "" (one shared zone).
	Zone string
	// Weight is the node's capacity relative to the others: it owns about
	// Q·Weight/ΣWeight partitions. Default 1.
	Weight float64

	// GossipAddr is the host:port memberlist binds for UDP and TCP. Port 0
	// picks a free port (see Membership.GossipAddr). Default
	// DefaultGossipAddr.
	GossipAddr string
	// AdvertiseAddr is the host:port peers should use to reach this node
	// when it differs from GossipAddr (NAT, 0.0.0.0 binds). Optional.
	AdvertiseAddr string
	// InternodeAddr and ClientAddr are the host:port of this node's
	// internode (protocol/wire) server and memcached front end, published
	// to peers in View.Members. Optional, but the coordinator cannot reach
	// a node without its InternodeAddr.
	InternodeAddr, ClientAddr string

	// Seeds are gossip addresses (host:port) of nodes already in the
	// cluster; this node's own address among them is skipped. Empty
	// starts a new cluster whose ring holds this node alone. Start retries
	// them for Timing.JoinTimeout.
	Seeds []string
	// Peers are the gossip addresses of the members this node knew when it
	// last ran, by node ID (see Membership.Peers; the caller saves them
	// beside the ring). Unlike Seeds they are not required to answer, and
	// Start does not wait for them: the reconnect loop tries them at once
	// and keeps trying every member it believes down, so that a node
	// restarted without Seeds (the first node of a cluster, say) finds its
	// cluster again.
	Peers map[string]string
	// Ring is the partition count and replication factor of a ring this
	// node creates: only when it starts without Seeds and SavedRing, or when
	// no seed has a ring yet. A joining node takes the cluster's.
	Ring ring.Config
	// SavedRing is the ring this node held when it last ran (optional). The
	// caller persists View.Ring.Encode() whenever the ring changes (see
	// Subscribe) and passes it back on restart. A saved ring without this
	// node (it left) is of use only with Seeds: without them no member of
	// it may be alive to add this node back.
	SavedRing []byte

	// SecretKey turns on gossip encryption (AES-GCM): 16, 24 or 32 bytes,
	// the same on every node. Default none.
	SecretKey []byte
	// Label separates clusters that share a network: nodes with different
	// labels ignore each other. Default "".
	Label string
	// Timing holds the failure-detection and convergence intervals.
	// Default LANTiming(); zero fields take LANTiming's values.
	Timing Timing
	// Transport replaces memberlist's UDP+TCP sockets (tests use an
	// in-memory network). Default nil: sockets on GossipAddr.
	Transport memberlist.Transport
	// Left starts the node as one that left the ring: it gossips, so the
	// others still ask it before they reap and it can hand off what it
	// holds, but it does not ask to be in the ring until Rejoin. A node
	// that left and restarts must not come back into the ring by itself
	// (the operator asked it out; its data went to others).
	Left bool
	// Removals are removals this node was asked for (Membership.Remove)
	// before it stopped; it asks for them again, those its ring has not
	// made. The caller saves them across restarts, as it does Left: a
	// request is state, and one lost with a crash of the node that took it
	// would leave a dead node in the ring for good.
	Removals []string
	// Logger receives this package's events (members up and down, rings
	// derived and adopted) and memberlist's own lines at their levels.
	// Default nil: discarded.
	Logger *slog.Logger
}

// Timing holds the intervals of gossip and ring convergence.
type Timing struct {
	// ProbeInterval and ProbeTimeout drive memberlist's failure detector:
	// each interval a random peer is pinged and must answer within the
	// timeout (else indirect probes, then suspicion). LAN 1 s and 500 ms.
	ProbeInterval, ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspected node has to refute before
	// it is declared dead (SuspicionMult · log10(nodes) · ProbeInterval at
	// least). LAN 4.
	SuspicionMult int
	// GossipInterval is how often gossip messages (alive, dead, metadata)
	// go out. LAN 200 ms.
	GossipInterval time.Duration
	// PushPullInterval is how often a node exchanges full state, its ring
	// included, with a random peer: the anti-entropy that heals anything
	// the direct sends missed. LAN 30 s.
	PushPullInterval time.Duration
	// TCPTimeout bounds a reliable send, a push/pull and a join attempt.
	// LAN 10 s.
	TCPTimeout time.Duration
	// DeadNodeReclaim is how long a node must have been dead before its ID
	// may come back at another address (a restarted node that moved).
	// LAN 10 s.
	DeadNodeReclaim time.Duration
	// Reconcile is how often the node re-checks, without being prompted,
	// whether it is the claimant with changes to make or is behind a peer's
	// ring and should pull it. Events trigger the same checks at once.
	// LAN 1 s.
	Reconcile time.Duration
	// JoinTimeout is how long Start keeps retrying the seeds (with
	// backoff) before it gives up with ErrNoSeed. LAN 30 s.
	JoinTimeout time.Duration
	// Reconnect is how often the node tries to join every ring member
	// that gossip has as down, at its last known address. memberlist
	// stops talking to a member it declared dead after GossipToTheDead,
	// and without this a member partitioned away (or restarted without
	// seeds) for longer never came back, and two such islands stayed apart
	// for good. LAN 2 s.
	Reconnect time.Duration
	// GossipToTheDead is how long memberlist keeps gossiping to a node it
	// declared dead. LAN 30 s.
	GossipToTheDead time.Duration
	// BroadcastTimeout bounds the wait for a metadata update or a leave
	// message to go out. LAN 5 s.
	BroadcastTimeout time.Duration
}

// LANTiming is the default: memberlist's LAN settings, and a ring check
// every second.
func LANTiming() Timing {
	return Timing{
		ProbeInterval:    time.Second,
		ProbeTimeout:     500 * time.Millisecond,
		SuspicionMult:    4,
		GossipInterval:   200 * time.Millisecond,
		PushPullInterval: 30 * time.Second,
		TCPTimeout:       10 * time.Second,
		DeadNodeReclaim:  10 * time.Second,
		Reconcile:        time.Second,
		JoinTimeout:      30 * time.Second,
		BroadcastTimeout: 5 * time.Second,
		Reconnect:        2 * time.Second,
		GossipToTheDead:  30 * time.Second,
	}
}

// TestTiming is fast: a killed node is declared dead in well under a
// second (about 0.35 s among four nodes on loopback) and rings spread in
// milliseconds, while the TCP and join timeouts stay generous enough for a
// loaded machine under the race detector. For loopback tests only.
func TestTiming() Timing {
	return Timing{
		ProbeInterval:    100 * time.Millisecond,
		ProbeTimeout:     50 * time.Millisecond,
		SuspicionMult:    2,
		GossipInterval:   20 * time.Millisecond,
		PushPullInterval: 300 * time.Millisecond,
		TCPTimeout:       2 * time.Second,
		DeadNodeReclaim:  100 * time.Millisecond,
		Reconcile:        50 * time.Millisecond,
		JoinTimeout:      5 * time.Second,
		BroadcastTimeout: time.Second,
		Reconnect:        100 * time.Millisecond,
		GossipToTheDead:  500 * time.Millisecond,
	}
}

func (t Timing) withDefaults() Timing {
	lan := LANTiming()
	fill := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	fill(&t.ProbeInterval, lan.ProbeInterval)
	fill(&t.ProbeTimeout, lan.ProbeTimeout)
	fill(&t.GossipInterval, lan.GossipInterval)
	fill(&t.PushPullInterval, lan.PushPullInterval)
	fill(&t.TCPTimeout, lan.TCPTimeout)
	fill(&t.DeadNodeReclaim, lan.DeadNodeReclaim)
	fill(&t.Reconcile, lan.Reconcile)
	fill(&t.JoinTimeout, lan.JoinTimeout)
	fill(&t.BroadcastTimeout, lan.BroadcastTimeout)
	fill(&t.Reconnect, lan.Reconnect)
	fill(&t.GossipToTheDead, lan.GossipToTheDead)
	if t.SuspicionMult == 0 {
		t.SuspicionMult = lan.SuspicionMult
	}
	return t
}

func (t Timing) validate() error {
	for _, d := range []time.Duration{t.ProbeInterval, t.ProbeTimeout, t.GossipInterval,
		t.PushPullInterval, t.TCPTimeout, t.DeadNodeReclaim, t.Reconcile, t.JoinTimeout, t.BroadcastTimeout,
		t.Reconnect, t.GossipToTheDead} {
		if d < 0 {
			return fmt.Errorf("%w: negative timing %v", ErrConfig, d)
		}
	}
	if t.SuspicionMult < 1 {
		return fmt.Errorf("%w: SuspicionMult must be at least 1", ErrConfig)
	}
	return nil
}

// withDefaults fills zero fields and checks the result; every default is
// applied here and nowhere else.
func (c Config) withDefaults() (Config, error) {
	if c.Weight == 0 {
		c.Weight = 1
	}
	if c.GossipAddr == "" {
		c.GossipAddr = DefaultGossipAddr
	}
	c.Timing = c.Timing.withDefaults()
	return c, c.validate()
}

func (c Config) validate() error {
	if len(c.NodeID) == 0 || len(c.NodeID) > ring.MaxNameLen {
		return fmt.Errorf("%w: node ID must be 1 to %d bytes (got %d)", ErrConfig, ring.MaxNameLen, len(c.NodeID))
	}
	if err := validateZone(c.Zone); err != nil {
		return err
	}
	if err := validateWeight(c.Weight); err != nil {
		return err
	}
	if _, _, err := splitHostPort(c.GossipAddr); err != nil {
		return fmt.Errorf("%w: gossip address: %v", ErrConfig, err)
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitHostPort(c.AdvertiseAddr); err != nil {
			return fmt.Errorf("%w: advertise address: %v", ErrConfig, err)
		}
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("%w: secret key must be 16, 24 or 32 bytes (got %d)", ErrConfig, len(c.SecretKey))
	}
	if err := c.Timing.validate(); err != nil {
		return err
	}
	return checkMetaSize(c.Zone, c.InternodeAddr, c.ClientAddr)
}

func validateZone(zone string) error {
	if len(zone) > ring.MaxNameLen {
		return fmt.Errorf("%w: zone must be at most %d bytes (got %d)", ErrConfig, ring.MaxNameLen, len(zone))
	}
	return nil
}

func validateWeight(w float64) error {
	if !(w > 0) || math.IsInf(w, 1) {
		return fmt.Errorf("%w: weight must be positive and finite (got %v)", ErrConfig, w)
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > math.MaxUint16 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return host, port, nil
}

// memberlistConfig translates c into memberlist's configuration, with d as
// every delegate.
func (c Config) memberlistConfig(d *delegate) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.NodeID
	mc.BindAddr, mc.BindPort, _ = splitHostPort(c.GossipAddr) // validated
	if c.AdvertiseAddr != "" {
		mc.AdvertiseAddr, mc.AdvertisePort, _ = splitHostPort(c.AdvertiseAddr)
	}
	t := c.Timing
	mc.ProbeInterval, mc.ProbeTimeout = t.ProbeInterval, t.ProbeTimeout
	mc.SuspicionMult = t.SuspicionMult
	mc.GossipInterval = t.GossipInterval
	mc.PushPullInterval = t.PushPullInterval
	mc.TCPTimeout = t.TCPTimeout
	mc.DeadNodeReclaimTime = t.DeadNodeReclaim
	mc.GossipToTheDeadTime = t.GossipToTheDead
	mc.Delegate, mc.Events, mc.Conflict, mc.Merge = d, d, d, d
	mc.SecretKey = c.SecretKey
	mc.Label = c.Label
	mc.Transport = c.Transport
	mc.Logger = log.New(memberlistLog{c.logger()}, "", 0)
	return mc
}

// logger is Config.Logger, or one that discards.
func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// memberlistLog carries memberlist's log lines ("[WARN] memberlist: ...")
// into a slog.Logger at the level each names.
type memberlistLog struct{ l *slog.Logger }

func (w memberlistLog) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	level := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{"[DEBUG] ": slog.LevelDebug, "[INFO] ": slog.LevelInfo, "[WARN] ": slog.LevelWarn, "[ERR] ": slog.LevelError} {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			line, level = rest, l
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	w.l.Log(context.Background(), level, line, "from", "memberlist")
	return len(p), nil
}
