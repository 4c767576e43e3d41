package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/cluster/internal/msg"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire"
	"github.com/dynamo-kv/dynamo/protocol/wire/wiretest"
	"github.com/dynamo-kv/dynamo/ring"
)

// The coordinator's background replication (spares after a failure) must
// not read the caller's PutRequest after Put returned: the memcached
// executor reuses it for the next command. Fails under -race today.
func TestPutRequestNotReadAfterReturn(t *testing.T) {
	c := newTestCluster(t, 4, Options{N: 3, R: 1, W: 1})
	key := "reused-request"
	top, _ := c.owners(key, 3)
	coord := c.nodes[top[0]]
	// One replica black-holed from the coordinator: its merge times out
	// after the write was acknowledged, and a spare takes its place.
	coord.net.Set(c.nodes[top[2]].addr, wireFaultBlackHole())
	req := kv.PutRequest{Value: []byte("v"), SupersedeAll: true}
	if _, err := coord.node.Put([]byte(key), &req); err != nil {
		t.Fatal(err)
	}
	// The executor reuses its request struct for the next command.
	req = kv.PutRequest{Value: []byte("next"), Durability: kv.Sync}
	time.Sleep(3 * c.nodes[0].node.opts.Timeout)
}

// fakeTransport routes calls in-process to other nodes' handlers.
type fakeTransport struct {
	mu       sync.Mutex
	handlers map[string]func(ctx context.Context, t wire.MsgType, p, dst []byte) (wire.MsgType, []byte, error)
	onMerge  func(addr string) // called after a merge was delivered
}

func (f *fakeTransport) Call(ctx context.Context, addr string, t wire.MsgType, req, dst []byte) (wire.MsgType, []byte, error) {
	f.mu.Lock()
	h := f.handlers[addr]
	hook := f.onMerge
	f.mu.Unlock()
	rt, out, err := h(ctx, t, append([]byte(nil), req...), dst)
	if err == nil && t == msg.Merge && hook != nil {
		hook(addr)
	}
	return rt, append([]byte(nil), out...), err
}

func (f *fakeTransport) Healthy(string) bool { return true }

type fixedTopo struct{ t *Topology }

func (f fixedTopo) Topology() *Topology { return f.t }

// A hint must not be deleted while the record it covers changed after the
// delivered copy was read: a write that reaches the fallback (with a hint
// for the same owner) during delivery is otherwise never delivered.
func TestHintKeptForUndeliveredWrite(t *testing.T) {
	var members []ring.Member
	for i := 1; i <= 4; i++ {
		members = append(members, ring.Member{ID: fmt.Sprintf("n%d", i), Weight: 1})
	}
	r, err := ring.New(ring.Config{Partitions: 64, Replicas: 3}, members)
	if err != nil {
		t.Fatal(err)
	}
	// A key whose top 3 excludes n4, the fallback under test.
	var key []byte
	var owner string
	for i := 0; ; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		top, _ := r.PreferenceList(r.Partition(ring.HashKey(k)), 3, nil)
		if !contains(top, "n4") {
			key, owner = k, top[0]
			break
		}
	}
	open := func() *engine.Engine {
		e, err := engine.Open(engine.Options{Dir: "db", FS: vfs.NewMem(), Durability: kv.Buffered, ReapInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	writer, fbEng, ownerEng := open(), open(), open()
	addrs := map[string]string{}
	alive := map[string]bool{}
	for _, m := range members {
		addrs[m.ID], alive[m.ID] = m.ID, true
	}
	tr := &fakeTransport{handlers: map[string]func(context.Context, wire.MsgType, []byte, []byte) (wire.MsgType, []byte, error){}}
	opts := Options{N: 3, R: 2, W: 2, HintInterval: time.Hour, HandoffInterval: time.Hour, AntiEntropyInterval: -1}
	fb, err := New(fbEng, fixedTopo{&Topology{Ring: r, Self: "n4", Addrs: addrs, Alive: alive}}, tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	own, err := New(ownerEng, fixedTopo{&Topology{Ring: r, Self: owner, Addrs: addrs, Alive: alive}}, tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	tr.handlers[owner] = own.handle

	// The fallback took v1 with a hint for the owner.
	_, rec1, err := writer.PutRecord(key, &kv.PutRequest{Value: []byte("v1"), SupersedeAll: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fb.applyMerge(&msg.MergeRequest{Key: key, Rec: rec1, Owed: []string{owner}}); err != nil {
		t.Fatal(err)
	}
	// While v1 is being delivered, a newer write v2 reaches the fallback,
	// again with a hint for the (still unreachable for that coordinator)
	// owner.
	var once sync.Once
	tr.onMerge = func(string) {
		once.Do(func() {
			_, rec2, err := writer.PutRecord(key, &kv.PutRequest{Value: []byte("v2"), SupersedeAll: true}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := fb.applyMerge(&msg.MergeRequest{Key: key, Rec: rec2, Owed: []string{owner}}); err != nil {
				t.Error(err)
			}
		})
	}
	fb.DeliverHints()
	tr.onMerge = nil

	var o kv.Object
	if err := ownerEng.Get(key, &o, kv.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	ownerHasV2 := values(&o)["v2"]
	hintLeft, err := fbEng.HasHints(key)
	if err != nil {
		t.Fatal(err)
	}
	if !ownerHasV2 && !hintLeft {
		t.Fatalf("the owner lacks v2 (has %v) and the fallback's hint for it is gone", values(&o))
	}
}

func wireFaultBlackHole() wiretest.Fault { return wiretest.Fault{BlackHole: true} }

// TestLateForwardRefused: found by the simulator (seed 15). A forwarded
// delete, held in a paused node's network while its forwarder gave up,
// wrote the delete itself and answered, reached the owner after the
// client's next set and, applied then, deleted it. An owner refuses a
// forward past its deadline, and the forwarder takes that refusal as "not
// applied".
func TestLateForwardRefused(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 3, R: 2, W: 2})
	owner := c.nodes[0]
	late := msg.AppendPut(nil, []byte("k"), &kv.PutRequest{Delete: true, SupersedeAll: true}, c.clock.Now().Add(-time.Millisecond).UnixNano())
	if _, err := owner.put(t, "k", set("after")); err != nil {
		t.Fatal(err)
	}
	_, _, err := owner.node.handle(context.Background(), msg.Put, late, nil)
	if !errors.Is(msg.FromRemote(err), msg.ErrLateForward) {
		t.Fatalf("late forward: %v, want it refused", err)
	}
	if got := owner.local(t, "k"); !got["after"] || got["<deleted>"] {
		t.Fatalf("after a refused late delete the owner holds %v, want the set alone", got)
	}
	onTime := msg.AppendPut(nil, []byte("k"), &kv.PutRequest{Delete: true, SupersedeAll: true}, c.clock.Now().Add(time.Minute).UnixNano())
	if _, _, err := owner.node.handle(context.Background(), msg.Put, onTime, nil); err != nil {
		t.Fatalf("forward within its deadline: %v", err)
	}
	if got := owner.local(t, "k"); got["after"] {
		t.Fatalf("a forward within its deadline was not applied: %v", got)
	}
}

// heldPut is a forward transport whose Put fails at once as "maybe
// delivered" (a connection broken under it) while the request itself is
// held, to be delivered later: what a paused node's network did.
type heldPut struct {
	peers
	deadlines chan int64
}

func (h heldPut) Put(_ context.Context, _ string, _ []byte, _ *kv.PutRequest, deadline int64) (kv.PutResult, error) {
	h.deadlines <- deadline
	return kv.PutResult{}, &callError{cause: errors.New("connection reset"), why: maybeDelivered}
}

// TestForwarderOutwaitsAMaybeDeliveredForward: found by the simulator
// (seed 1460). A forward failed early (maybe delivered) and the forwarder
// wrote the key itself and answered at once; the held request reached the
// owner before its deadline, was applied then, stamped after the client's
// next write, and read back instead of it. A forwarder that answers the
// client after a maybe-delivered forward does so only once that forward's
// deadline has passed: the owner would refuse it from then on.
func TestForwarderOutwaitsAMaybeDeliveredForward(t *testing.T) {
	c := newTestCluster(t, 3, Options{N: 2, R: 1, W: 1, Timeout: 20 * time.Millisecond})
	_, rest := c.owners("k", 2)
	fwd := c.nodes[rest[0]] // not an owner: it forwards
	held := heldPut{peers: fwd.node.fwd, deadlines: make(chan int64, 4)}
	fwd.node.fwd = held
	if _, err := fwd.put(t, "k", set("v")); err != nil {
		t.Fatal(err)
	}
	now := fwd.eng.Now().UnixNano()
	for len(held.deadlines) > 0 {
		if d := <-held.deadlines; now <= d {
			t.Fatalf("answered %v before the deadline of a forward that may still be applied", time.Duration(d-now))
		}
	}
}

// A node removed while it still ran, cut off from the others, must not
// bring back what it holds once the cut heals and before it hears of its
// removal: its copies were declared lost, and the others may since have
// deleted or reaped past what it took. Found by the simulator (seed 2928):
// a set that failed on the cut-off node, kept there with a hint, was
// delivered after the heal and came back over a later acknowledged set
// that a later delete had removed. Every merge names its sender, and a
// replica refuses one from a node its ring has removed.
func TestRemovedNodesMergesAreRefused(t *testing.T) {
	c := newTestCluster(t, 4, Options{N: 2, R: 1, W: 2})
	key := "removed-holds-it"
	top, rest := c.owners(key, 2)
	gone, owner := c.nodes[top[1]], c.nodes[top[0]]
	c.cut([]int{top[1]}, []int{top[0], rest[0], rest[1]})
	// Behind the cut the write fails (W=2) but stays on gone, with a
	// hint for owner.
	if _, err := gone.put(t, key, set("from-the-removed")); !isUnavailable(err) {
		t.Fatalf("a write through a node cut off from every other: %v, want unavailable", err)
	}
	if !gone.local(t, key)["from-the-removed"] {
		t.Fatal("the failed write is not on the node that took it")
	}
	// The others remove gone; gone itself still routes by the old ring.
	old := c.topo.Load().Ring
	var members []ring.Member
	for _, m := range old.Members() {
		if m.ID != gone.id {
			members = append(members, m)
		}
	}
	removed, err := old.Remove(members, gone.id)
	if err != nil {
		t.Fatal(err)
	}
	gone.ring.Store(old)
	c.setRing(removed)
	c.heal()

	if n := gone.node.DeliverHints(); n != 0 {
		t.Fatalf("a removed node delivered %d hints", n)
	}
	m := msg.MergeRequest{Key: []byte(key), Rec: mustRecord(t, gone, key)}
	if err := gone.node.sendMerge(context.Background(), gone.node.topo.Topology(), owner.id, &m); !errors.Is(msg.FromRemote(err), msg.ErrFromRemoved) {
		t.Fatalf("a removed node's merge: %v, want %v", err, msg.ErrFromRemoved)
	}
	gone.node.AntiEntropy()
	for _, tn := range c.nodes {
		if tn != gone && len(tn.local(t, key)) > 0 {
			t.Fatalf("%s took %v from the removed %s", tn.id, tn.local(t, key), gone.id)
		}
	}
	if got := statValue(owner.node.Stats(), "cluster_merges_from_removed_refused"); got == "0" {
		t.Fatal("cluster_merges_from_removed_refused = 0 on the owner")
	}
	// A member's merge is still taken.
	if err := c.nodes[rest[0]].node.sendMerge(context.Background(), c.nodes[rest[0]].node.topo.Topology(), owner.id, &m); err != nil {
		t.Fatalf("a member's merge: %v", err)
	}
}

func mustRecord(t *testing.T, tn *testNode, key string) []byte {
	t.Helper()
	rec, found, err := tn.eng.Record([]byte(key), nil)
	if err != nil || !found {
		t.Fatalf("%s's record of %s: found %v, %v", tn.id, key, found, err)
	}
	return rec
}
