package membership

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
	"github.com/hashicorp/memberlist"
)

// Membership is one node's membership: its gossip (memberlist), the ring
// it holds, and the View it publishes. Its methods are safe for
// concurrent use.
type Membership struct {
	cfg  Config
	self string
	log  *slog.Logger
	ml   *memberlist.Memberlist

	// Published state. The loop (and Start, before the loop runs) stores;
	// anyone loads, without locks.
	view       atomic.Pointer[View]
	meta       atomic.Pointer[[]byte] // this node's metadata, served by NodeMeta
	state      atomic.Pointer[[]byte] // the ring held, framed, served by LocalState
	gossipAddr atomic.Pointer[string] // set once memberlist has bound its address
	duplicate  atomic.Pointer[error]  // the last node-ID conflict a merge revealed

	in          *inbox
	out         *fanout
	advertiseCh chan struct{}                     // capacity 1: metadata changed, gossip it
	updateNode  func(timeout time.Duration) error // memberlist's UpdateNode; tests replace it
	request     []byte                            // our kindRingRequest message

	settings struct { // what the API changes; the loop reads it each step
		sync.Mutex
		intent  intent
		zone    string
		weight  float64
		removes []string // sorted: nodes to remove for good (Remove)
	}

	// Owned by the loop goroutine (by Start before the loop runs).
	core     core
	spreadOf *ring.Ring // the ring spread last; differs from core.ring when a new one must go out
	lastMeta nodeMeta
	lastPull pullRecord

	stats    counters
	stopOnce sync.Once
	stopped  chan struct{}
	wg       sync.WaitGroup // the loop and the advertiser
}

// pullRecord remembers the last ring request, so that one peer is not
// asked for one ring more than once per Reconcile interval.
type pullRecord struct {
	from string
	want stamp
	at   time.Time
}

// Start creates the node's gossip, joins the seeds when there are any, and
// returns once the node holds a ring: its saved ring or the cluster's
// (whichever wins), or, when it starts a cluster or no seed has a ring, a
// new ring of itself alone. It announces that it wants to be in the ring;
// the claimant adds it. Errors: ErrConfig, ErrMetaTooLarge, ErrSavedRing,
// ErrNoSeed, ErrDuplicateID, ErrRingConfig, or memberlist's bind error.
func Start(cfg Config) (*Membership, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	solo, err := ring.New(cfg.Ring, []ring.Member{{ID: cfg.NodeID, Zone: cfg.Zone, Weight: cfg.Weight}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	m := newMembership(cfg)
	switch {
	case len(cfg.SavedRing) > 0:
		r, err := ring.Decode(cfg.SavedRing)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSavedRing, err)
		}
		m.core.hold(r)
	case len(cfg.Seeds) == 0:
		m.core.hold(solo)
	}
	if m.core.ring != nil {
		m.spread() // serve it to the seeds' push/pull during the join
	}
	m.refreshSelf() // memberlist asks for the metadata as it starts
	if m.ml, err = memberlist.Create(cfg.memberlistConfig(&delegate{m})); err != nil {
		return nil, fmt.Errorf("membership: start gossip on %s: %w", cfg.GossipAddr, err)
	}
	addr := m.ml.LocalNode().Address()
	m.gossipAddr.Store(&addr)
	err = m.settle(solo)
	if err == nil && m.core.removedSelf() {
		err = fmt.Errorf("%w: %s was removed from the cluster at or before ring version %d; wipe its data directory and join under a new ID",
			ErrRemoved, cfg.NodeID, m.core.ring.Version())
	}
	if err != nil {
		m.out.stop()
		_ = m.ml.Leave(cfg.Timing.BroadcastTimeout) // peers forget it at once; it was never added
		_ = m.ml.Shutdown()
		return nil, err
	}
	m.updateNode = m.ml.UpdateNode
	m.wg.Add(3)
	go m.run()
	go m.advertise()
	go m.reconnect()
	return m, nil
}

func newMembership(cfg Config) *Membership {
	m := &Membership{
		cfg:         cfg,
		self:        cfg.NodeID,
		log:         cfg.logger().With("node", cfg.NodeID),
		in:          newInbox(),
		advertiseCh: make(chan struct{}, 1),
		request:     appendFrame(nil, kindRingRequest, []byte(cfg.NodeID)),
		core:        newCore(cfg.NodeID, nil),
		stopped:     make(chan struct{}),
	}
	m.out = newFanout(m.sendReliable, m.sent)
	m.settings.intent, m.settings.zone, m.settings.weight = intentJoin, cfg.Zone, cfg.Weight
	if cfg.Left {
		m.settings.intent = intentLeave
	}
	for _, id := range cfg.Removals {
		if id != cfg.NodeID && !slices.Contains(m.settings.removes, id) {
			m.settings.removes = append(m.settings.removes, id)
		}
	}
	slices.Sort(m.settings.removes)
	return m
}

// settle joins the seeds and takes the first ring: what the seeds sent
// during the join (it arrives before Join returns), else solo. Saved
// peers are not required: they may all be down, and this node must
// start anyway; it gives them peersWait to answer (all at once), so
// that a node restarting on a saved ring learns the cluster's before it
// serves (and a node removed meanwhile learns it now, not after it
// has sent its old data around). The reconnect loop keeps trying them.
func (m *Membership) settle(solo *ring.Ring) error {
	if len(m.cfg.Seeds) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Timing.JoinTimeout)
		err := m.join(ctx, m.cfg.Seeds)
		cancel()
		if err != nil {
			return err
		}
	} else if len(m.cfg.Peers) > 0 {
		m.reachAny(slices.Collect(maps.Values(m.cfg.Peers)), min(peersWait, m.cfg.Timing.JoinTimeout))
	}
	otherConfig := m.stats.otherConfig.Load()
	m.step(time.Now())
	if m.stats.otherConfig.Load() != otherConfig {
		return fmt.Errorf("%w: this node holds Q=%d N=%d",
			ErrRingConfig, m.core.ring.Partitions(), m.core.ring.Config().Replicas)
	}
	if m.core.ring == nil {
		m.log.Info("no seed has a ring yet; starting a ring of this node alone")
		m.core.offer(solo)
		m.step(time.Now())
	}
	return nil
}

// peersWait bounds how long Start waits for a saved peer to answer.
const peersWait = 2 * time.Second

// reachAny joins each of addrs on a goroutine of its own and returns when
// one answered or after wait; the others finish on their own (a join to
// a dead address lasts TCPTimeout).
func (m *Membership) reachAny(addrs []string, wait time.Duration) {
	self := m.GossipAddr()
	reached := make(chan struct{}, len(addrs))
	for _, addr := range addrs {
		if addr == self {
			continue
		}
		go func() {
			if n, err := m.ml.Join([]string{addr}); err == nil && n > 0 {
				reached <- struct{}{}
			}
		}()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-reached:
	case <-t.C:
	}
}

// join contacts the seeds until one answers or ctx ends, with backoff.
func (m *Membership) join(ctx context.Context, seeds []string) error {
	self := m.GossipAddr()
	seeds = slices.DeleteFunc(slices.Clone(seeds), func(s string) bool { return s == self })
	if len(seeds) == 0 {
		return nil
	}
	backoff := 50 * time.Millisecond
	for {
		m.duplicate.Store(nil)
		n, err := m.ml.Join(seeds)
		if dup := m.duplicate.Load(); dup != nil {
			return *dup
		}
		if n > 0 {
			return nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (tried %s): %v", ErrNoSeed, strings.Join(seeds, ", "), err)
		case <-m.stopped:
			t.Stop()
			return ErrClosed
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// reconnect tries, every Timing.Reconnect, to join each ring member that
// gossip has as down (or has never heard from in this run), at the last
// address known for it: the last gossip address this node heard for it,
// else the one Config.Peers saved; and, while it sees no other node
// alive, its seeds. One attempt per address at a time; a join
// into a partition waits out TCPTimeout on its own goroutine. A join that
// reaches the member merges the two memberlist states (push/pull), after
// which each side sees the other alive again.
func (m *Membership) reconnect() {
	defer m.wg.Done()
	tick := time.NewTicker(m.cfg.Timing.Reconnect)
	defer tick.Stop()
	var mu sync.Mutex
	trying := map[string]bool{}
	unheard := false
	for first := true; ; first = false {
		if !first {
			select {
			case <-m.stopped:
				return
			case <-tick.C:
			}
		}
		// A wish the ring has not reflected for a whole interval is
		// announced again over a stream (below); one just made is left to
		// the gossip broadcast already under way.
		addr := m.unheardBy()
		if addr != "" && unheard {
			m.joinOnce(addr, &mu, trying, func() {
				m.stats.reannounces.Add(1)
				m.log.Info("announced this node to the claimant again; the ring does not reflect it yet", "addr", addr)
			})
		}
		unheard = addr != ""
		for _, addr := range m.downAddrs() {
			m.joinOnce(addr, &mu, trying, func() {
				m.stats.reconnects.Add(1)
				m.log.Info("reconnected to a member gossip had as down", "addr", addr)
			})
		}
	}
}

// unheardBy returns the claimant's gossip address when the ring does not
// reflect what this node asks of it: in the ring while it wants in, out
// while it wants out, its zone and weight. "" when it does, or this node
// is the claimant, or no claimant is known.
//
// The claimant learns what a node asks from its gossip metadata, and an
// update is gossiped by packets a few times and then only at the next
// push/pull (30 s on a LAN). A joiner is first heard at its join's
// push/pull, before it holds a ring, so the update that makes it addable
// (the ring config it holds) is the one that must arrive: when the
// packets that carried it were lost, the joiner waited out the push/pull
// interval (the simulator's seeds 40 and 71 did not form in 30 s).
func (m *Membership) unheardBy() string {
	v := m.View()
	if v == nil || v.Ring == nil || m.closed() {
		return ""
	}
	m.settings.Lock()
	want, zone, weight := m.settings.intent, m.settings.zone, m.settings.weight
	m.settings.Unlock()
	rm, in := v.Ring.Member(m.self)
	switch {
	case want == intentJoin && !in:
	case want.leaving() && in:
	case in && !want.leaving() && (rm.Zone != zone || rm.Weight != weight):
	default:
		return ""
	}
	who := v.Claimant()
	if who == "" || who == m.self {
		return ""
	}
	return v.Members[who].GossipAddr
}

// joinOnce joins addr (a push/pull of the two memberlist states, over a
// stream) on a goroutine of its own, unless a join of addr is under way,
// and calls reached if it reached the node. Not waited for by Shutdown: a
// join into a partition can take TCPTimeout, and one that ends after
// Shutdown only fails.
func (m *Membership) joinOnce(addr string, mu *sync.Mutex, trying map[string]bool, reached func()) {
	mu.Lock()
	busy := trying[addr]
	trying[addr] = true
	mu.Unlock()
	if busy {
		return
	}
	go func() {
		defer func() { mu.Lock(); delete(trying, addr); mu.Unlock() }()
		if m.closed() {
			return
		}
		if n, err := m.ml.Join([]string{addr}); err == nil && n > 0 {
			reached()
		}
	}()
}

// downAddrs lists the last known gossip addresses of ring members, and
// of the other nodes this node has not forgotten (a node out of the ring
// that may hold data: see prune), that are not alive here and, while this
// node sees no other node alive, its seeds: a joiner cut off before the
// ring named it knows no member but through them.
func (m *Membership) downAddrs() []string {
	v := m.View()
	if v == nil || v.Ring == nil || m.closed() {
		return nil
	}
	self := m.GossipAddr()
	var out []string
	ids := make([]string, 0, len(v.Members))
	for _, rm := range v.Ring.Members() {
		ids = append(ids, rm.ID)
	}
	for id := range v.Members {
		if _, in := v.Ring.Member(id); !in {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if id == m.self {
			continue
		}
		mem, ok := v.Members[id]
		if ok && mem.Alive {
			continue
		}
		addr := mem.GossipAddr
		if addr == "" {
			addr = m.cfg.Peers[id]
		}
		if addr != "" && addr != self && !slices.Contains(out, addr) {
			out = append(out, addr)
		}
	}
	alone := true
	for id, mem := range v.Members {
		if id != m.self && mem.Alive {
			alone = false
			break
		}
	}
	if alone {
		for _, addr := range m.cfg.Seeds {
			if addr != self && !slices.Contains(out, addr) {
				out = append(out, addr)
			}
		}
	}
	return out
}

// Peers returns the gossip address of every member this node knows one
// for, by ID (itself included): what a caller saves and passes back as
// Config.Peers on restart.
func (m *Membership) Peers() map[string]string {
	out := map[string]string{}
	for id, addr := range m.cfg.Peers {
		out[id] = addr
	}
	if v := m.View(); v != nil {
		for id, mem := range v.Members {
			if mem.GossipAddr != "" {
				out[id] = mem.GossipAddr
			}
		}
	}
	if addr := m.GossipAddr(); addr != "" {
		out[m.self] = addr
	}
	return out
}

// noteDuplicate records that node id is alive at here and claimed by
// there, and returns the error Start and Join report.
func (m *Membership) noteDuplicate(id, here, there string) error {
	err := fmt.Errorf("%w: %q is alive at %s and claimed by %s", ErrDuplicateID, id, here, there)
	m.duplicate.Store(&err)
	m.log.Error("duplicate node ID", "err", err)
	return err
}

// aliveAt returns the gossip address at which node id is alive as far as
// this node knows.
func (m *Membership) aliveAt(id string) (string, bool) {
	if id == m.self {
		addr := m.GossipAddr()
		return addr, addr != ""
	}
	v := m.view.Load()
	if v == nil {
		return "", false
	}
	mem, ok := v.Members[id]
	return mem.GossipAddr, ok && mem.Alive && mem.GossipAddr != ""
}

// View returns the current snapshot: one atomic load, no allocation.
func (m *Membership) View() *View { return m.view.Load() }

// GossipAddr is the address memberlist bound (the real port when
// Config.GossipAddr asked for port 0): what other nodes use as a seed.
func (m *Membership) GossipAddr() string {
	if p := m.gossipAddr.Load(); p != nil {
		return *p
	}
	return ""
}

// Subscribe calls fn with the current view, then again after each change
// of the ring or of any member, from one goroutine, in order. A
// subscriber slower than the changes skips intermediate views but always
// gets the newest (compare rings with Diff to see everything that moved).
// The returned function stops the calls; they also stop at Shutdown, which
// does not wait for a call in progress.
func (m *Membership) Subscribe(fn func(*View)) (cancel func()) {
	done := make(chan struct{})
	go func() {
		var last *View
		for {
			v := m.View()
			if v != last {
				fn(v)
				last = v
			}
			select {
			case <-v.next:
			case <-done:
				return
			case <-m.stopped:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// Leave asks the claimant to remove this node from the ring and returns
// once a ring without it is adopted here and advertised by another alive
// member, so that the ring outlives this node. The caller then hands off
// its data and calls Shutdown. If ctx ends first the request stays in
// effect. Rejoin undoes it; restarting does not (see Config.Left).
// ErrLastMember if this node is the ring's only member.
func (m *Membership) Leave(ctx context.Context) error {
	if err := m.StartLeave(); err != nil {
		return err
	}
	return m.WaitLeft(ctx)
}

// StartLeave asks for this node to be out of the ring and returns at once;
// WaitLeft waits until it is. Errors: ErrClosed, ErrLastMember.
func (m *Membership) StartLeave() error {
	if m.closed() {
		return ErrClosed
	}
	if v := m.View(); v.Ring != nil && v.Ring.Len() == 1 && v.Ring.Owner(0) == m.self {
		return ErrLastMember
	}
	m.settings.Lock()
	if !m.settings.intent.leaving() {
		m.settings.intent = intentLeave
	}
	m.settings.Unlock()
	m.in.signal()
	return nil
}

// WaitLeft waits until a ring without this node has reached the others
// (see Leave), ctx ends, or the node closes.
func (m *Membership) WaitLeft(ctx context.Context) error {
	for {
		v := m.View()
		if left(v) {
			return nil
		}
		select {
		case <-v.next:
		case <-ctx.Done():
			return fmt.Errorf("membership: leave: %w", ctx.Err())
		case <-m.stopped:
			return ErrClosed
		}
	}
}

// Rejoin asks for this node to be in the ring again after it left (Leave,
// or Config.Left on a restart): the claimant adds it as it adds a joiner.
// It returns at once; the ring changes in the background.
func (m *Membership) Rejoin() error {
	if m.closed() {
		return ErrClosed
	}
	m.settings.Lock()
	m.settings.intent = intentJoin
	m.settings.Unlock()
	m.in.signal()
	return nil
}

// Remove asks the claimant to take node id out of the ring for good: a
// node that will not come back (its disks are lost, or it is retired
// without a leave). Its partitions move as for a leave and their new
// owners rebuild them from the surviving replicas; every node forgets it
// (so reaping need not wait for it), and it can never be a member again
// under that ID (Start refuses it: ErrRemoved). It returns at once; the
// ring changes in the background (WaitRemoved). id must be known here
// and not alive: a running node leaves instead. Removing a removed node
// does nothing. Errors: ErrClosed, ErrRemoveSelf, ErrUnknownNode,
// ErrRemoveAlive, ErrMetaTooLarge.
func (m *Membership) Remove(id string) error {
	if m.closed() {
		return ErrClosed
	}
	v := m.View()
	switch mem, known := v.Members[id]; {
	case id == m.self:
		return fmt.Errorf("%w (%s): a running node leaves instead", ErrRemoveSelf, id)
	case v.Ring != nil && v.Ring.Removed(id):
		return nil
	case !known:
		return fmt.Errorf("%w: %q", ErrUnknownNode, id)
	case mem.Alive:
		return fmt.Errorf("%w: %s is up; a running node leaves instead", ErrRemoveAlive, id)
	}
	m.settings.Lock()
	defer m.settings.Unlock()
	if slices.Contains(m.settings.removes, id) {
		return nil
	}
	removes := append(slices.Clone(m.settings.removes), id)
	slices.Sort(removes)
	meta := nodeMeta{intent: intentJoin, weight: 1, ring: stamp{math.MaxUint64, math.MaxUint64}, ringConfig: ring.Config{Partitions: 1, Replicas: 1},
		zone: m.settings.zone, internodeAddr: m.cfg.InternodeAddr, clientAddr: m.cfg.ClientAddr, removes: encodeRemovals(removes)}
	if size := len(meta.appendTo(nil)); size > memberlist.MetaMaxSize {
		return fmt.Errorf("%w: %d bytes with %d removals pending", ErrMetaTooLarge, size, len(removes))
	}
	m.settings.removes = removes
	m.in.signal()
	return nil
}

// WaitRemoved waits until the ring held here has removed id (Remove),
// ctx ends, or the node closes.
func (m *Membership) WaitRemoved(ctx context.Context, id string) error {
	for {
		v := m.View()
		if v.Ring != nil && v.Ring.Removed(id) {
			return nil
		}
		select {
		case <-v.next:
		case <-ctx.Done():
			return fmt.Errorf("membership: remove %s: %w", id, ctx.Err())
		case <-m.stopped:
			return ErrClosed
		}
	}
}

// Leaving reports whether this node asked to be out of the ring (Leave,
// or Config.Left) and has not asked back in.
func (m *Membership) Leaving() bool {
	m.settings.Lock()
	defer m.settings.Unlock()
	return m.settings.intent.leaving()
}

// SetDrained says whether this node, having left the ring, holds nothing
// (no record, no hint): then the others may forget it while it is down
// (see prune). It changes nothing on a node that has not asked to leave.
func (m *Membership) SetDrained(drained bool) {
	m.settings.Lock()
	old := m.settings.intent
	switch {
	case !old.leaving():
	case drained:
		m.settings.intent = intentDrained
	default:
		m.settings.intent = intentLeave
	}
	changed := m.settings.intent != old
	m.settings.Unlock()
	if changed {
		m.in.signal()
	}
}

// left reports whether v's ring lacks v.Self and another alive member
// advertises that ring or a newer one.
func left(v *View) bool {
	if _, in := v.Ring.Member(v.Self); in {
		return false
	}
	held := stampOf(v.Ring)
	for id, mem := range v.Members {
		adv := stamp{mem.RingVersion, mem.RingFingerprint}
		if id != v.Self && mem.Alive && (adv == held || adv.beats(held)) {
			return true
		}
	}
	return false
}

// Join contacts more seeds, for instance to merge two clusters that
// started apart; it retries until one answers or ctx ends. The rings then
// converge in the background: the winning ring's claimant adds the nodes
// of the other. Errors: ErrNoSeed, ErrDuplicateID, ErrClosed.
func (m *Membership) Join(ctx context.Context, seeds ...string) error {
	if m.closed() {
		return ErrClosed
	}
	return m.join(ctx, seeds)
}

// SetWeight changes this node's declared capacity; the claimant applies it
// to the ring.
func (m *Membership) SetWeight(w float64) error {
	if err := validateWeight(w); err != nil {
		return err
	}
	m.settings.Lock()
	m.settings.weight = w
	m.settings.Unlock()
	m.in.signal()
	return nil
}

// SetZone changes this node's zone; the claimant applies it to the ring.
func (m *Membership) SetZone(zone string) error {
	if err := validateZone(zone); err != nil {
		return err
	}
	if err := checkMetaSize(zone, m.cfg.InternodeAddr, m.cfg.ClientAddr); err != nil {
		return err
	}
	m.settings.Lock()
	m.settings.zone = zone
	m.settings.Unlock()
	m.in.signal()
	return nil
}

// Shutdown stops the node: it tells gossip it is leaving (peers mark it
// not alive at once, without waiting for failure detection) and shuts
// memberlist down. It does not take the node out of the ring; Leave does.
// Calling it again does nothing.
func (m *Membership) Shutdown() error { return m.halt(true) }

// halt stops the node; without graceful it skips the gossip leave, so
// peers must detect the failure, as after a crash.
func (m *Membership) halt(graceful bool) error {
	var err error
	m.stopOnce.Do(func() {
		close(m.stopped)
		m.wg.Wait()
		m.out.stop()
		if graceful {
			if e := m.ml.Leave(m.cfg.Timing.BroadcastTimeout); e != nil {
				err = fmt.Errorf("membership: leave gossip: %w", e)
			}
		}
		if e := m.ml.Shutdown(); e != nil && err == nil {
			err = fmt.Errorf("membership: shut down gossip: %w", e)
		}
	})
	return err
}

func (m *Membership) closed() bool {
	select {
	case <-m.stopped:
		return true
	default:
		return false
	}
}
