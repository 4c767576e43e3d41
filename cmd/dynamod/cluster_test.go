package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dynamo-kv/dynamo/protocol/ringclient"
)

// clusterProc is one dynamod process of a test cluster.
type clusterProc struct {
	*process
	id, dir, gossip, internode string
}

func startClusterNode(t *testing.T, id, dir, client, gossip, internode, join string, extra ...string) *clusterProc {
	t.Helper()
	args := append([]string{"-node-id", id, "-data", dir, "-listen", client, "-gossip", gossip, "-internode", internode}, extra...)
	if join != "" {
		args = append(args, "-join", join)
	}
	n := startProcess(t, client, args...)
	return &clusterProc{process: n, id: id, dir: dir, gossip: gossip, internode: internode}
}

// statValue reads one "stats" field from a node.
func statValue(t *testing.T, addr, name string) string {
	t.Helper()
	return statLine(t, addr, "stats", name)
}

// statLine is the value of the line "STAT name VALUE" that command
// answers on a node ("" when there is none).
func statLine(t *testing.T, addr, command, name string) string {
	t.Helper()
	c := dialMC(t, addr)
	defer c.c.Close()
	fmt.Fprintf(c.c, "%s\r\n", command)
	for {
		line, err := c.r.ReadString('\n')
		if err != nil || line == "END\r\n" {
			return ""
		}
		if f := strings.Fields(line); len(f) == 3 && f[1] == name {
			return f[2]
		}
	}
}

// TestClusterOfProcesses runs three real dynamod processes on loopback: a
// stock memcached client writes through one node and reads through
// another; one node is SIGKILLed and the other two keep serving reads and
// writes of every key; the killed node restarts on its data directory,
// rejoins, and the writes it missed reach it.
func TestClusterOfProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	procs := startTestCluster(t, 3)

	via1 := memcache.New(procs[0].addr)
	via2 := memcache.New(procs[1].addr)
	via1.Timeout, via2.Timeout = 3*time.Second, 3*time.Second
	const keys = 50
	for i := range keys {
		if err := via1.Set(&memcache.Item{Key: fmt.Sprint("key", i), Value: []byte(fmt.Sprint("v", i)), Flags: uint32(i)}); err != nil {
			t.Fatalf("set through n1: %v", err)
		}
	}
	for i := range keys {
		it, err := via2.Get(fmt.Sprint("key", i))
		if err != nil || string(it.Value) != fmt.Sprint("v", i) || it.Flags != uint32(i) {
			t.Fatalf("get key%d through n2: %+v %v", i, it, err)
		}
	}

	// Client-driven: a stock client with the ring-aware selector sends each
	// key straight to its owner, so no node forwards a write.
	router, err := ringclient.New(context.Background(), procs[1].addr)
	if err != nil {
		t.Fatal(err)
	}
	forwardedBefore := 0
	for _, p := range procs {
		n, _ := strconv.Atoi(statValue(t, p.addr, "cluster_writes_forwarded"))
		forwardedBefore += n
	}
	direct := memcache.NewFromSelector(router)
	direct.Timeout = 3 * time.Second
	for i := range keys {
		if err := direct.Set(&memcache.Item{Key: fmt.Sprint("direct", i), Value: []byte("d")}); err != nil {
			t.Fatalf("ring-aware set: %v", err)
		}
	}
	if it, err := direct.Get("key7"); err != nil || string(it.Value) != "v7" {
		t.Fatalf("ring-aware get: %+v %v", it, err)
	}
	forwardedAfter := 0
	for _, p := range procs {
		n, _ := strconv.Atoi(statValue(t, p.addr, "cluster_writes_forwarded"))
		forwardedAfter += n
	}
	if forwardedAfter != forwardedBefore {
		t.Fatalf("ring-aware writes were forwarded %d times", forwardedAfter-forwardedBefore)
	}

	// Kill n3 and keep going on the other two.
	victim := procs[2]
	victim.cmd.Process.Signal(syscall.SIGKILL)
	victim.cmd.Wait()
	for i := range keys {
		key := fmt.Sprint("key", i)
		if err := via1.Set(&memcache.Item{Key: key, Value: []byte(fmt.Sprint("w", i))}); err != nil {
			t.Fatalf("set %s with n3 dead: %v", key, err)
		}
		it, err := via2.Get(key)
		if err != nil || string(it.Value) != fmt.Sprint("w", i) {
			t.Fatalf("get %s with n3 dead: %+v %v", key, it, err)
		}
	}
	if via2.Delete("key0") != nil {
		t.Fatal("delete with n3 dead failed")
	}

	// Restart n3 on its data; the writes it missed reach it by hints.
	restarted := startClusterNode(t, victim.id, victim.dir, victim.addr, victim.gossip, victim.internode, procs[0].gossip)
	deadline := time.Now().Add(45 * time.Second)
	for {
		delivered := 0
		for _, p := range procs[:2] {
			n, _ := strconv.Atoi(statValue(t, p.addr, "cluster_hints_delivered"))
			delivered += n
		}
		if delivered >= keys {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d hints delivered to the restarted node; logs:\n%s", delivered, restarted.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	via3 := memcache.New(restarted.addr)
	via3.Timeout = 3 * time.Second
	if _, err := via3.Get("key0"); err != memcache.ErrCacheMiss {
		t.Fatalf("deleted key0 through the restarted node: %v", err)
	}
	if it, err := via3.Get("key1"); err != nil || string(it.Value) != "w1" {
		t.Fatalf("key1 through the restarted node: %+v %v", it, err)
	}
}

// TestLeaveHandsOffData: four processes, one leaves the ring through the
// admin command; the others converge on a ring of three, the leaver hands
// its records to their new owners and ends up empty, and every key is
// still readable.
func TestLeaveHandsOffData(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	procs := startTestCluster(t, 4)
	const keys = 60
	setKeys(t, procs[0].addr, keys)
	leaver := procs[3]
	if n, _ := strconv.Atoi(statValue(t, leaver.addr, "curr_items")); n == 0 {
		t.Fatal("setup: the leaving node holds no keys")
	}
	// dynctl leave -wait follows the handoff until the node holds nothing.
	dynctl := buildDynctl(t)
	out, err := exec.Command(dynctl, "-node", leaver.addr, "-wait", "60s", "leave").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "STAT leaving n4") && !strings.Contains(string(out), "is leaving the ring") ||
		!strings.Contains(string(out), "n4 ("+leaver.addr+") has left the ring and holds nothing: it may be stopped") {
		t.Fatalf("dynctl leave -wait: %v\n%s", err, out)
	}
	for _, p := range procs[:3] {
		waitStat(t, p, "cluster_members", "3")
	}
	waitStat(t, leaver, "curr_items", "0")
	checkKeys(t, procs[0].addr, keys, "after the leave")
	// Holding nothing, it says so: the others may now forget it once it
	// stops (until then a reap waits for it).
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(statLine(t, procs[0].addr, "admin status", "member:"+leaver.id), "state=drained,") {
		if time.Now().After(deadline) {
			t.Fatalf("%s never shown drained: %q", leaver.id, statLine(t, procs[0].addr, "admin status", "member:"+leaver.id))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Restarted, it stays out of the ring until it is asked back in.
	leaver.cmd.Process.Signal(syscall.SIGTERM)
	leaver.cmd.Wait()
	back := startClusterNode(t, leaver.id, leaver.dir, leaver.addr, leaver.gossip, leaver.internode, procs[0].gossip)
	waitStat(t, back, "cluster_ring_version", statValue(t, procs[0].addr, "cluster_ring_version"))
	if !strings.Contains(back.logs.String(), "stays out until asked back in") {
		t.Errorf("the restarted leaver did not say it stays out:\n%s", back.logs.String())
	}
	if got := statValue(t, procs[0].addr, "cluster_members"); got != "3" {
		t.Fatalf("the leaver rejoined by restarting: n1 has %s members", got)
	}
	out, err = exec.Command(dynctl, "-node", back.addr, "rejoin").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rejoining n4") {
		t.Fatalf("dynctl rejoin: %v\n%s", err, out)
	}
	for _, p := range procs[:3] {
		waitStat(t, p, "cluster_members", "4")
	}
	// And its log says when it may be stopped; the others logged the ring
	// they moved to.
	if logs := leaver.logs.String(); !strings.Contains(logs, "left and handed everything off") {
		t.Errorf("the leaver never logged that it may be stopped:\n%s", logs)
	}
	if logs := procs[0].logs.String(); !strings.Contains(logs, "ring") || !strings.Contains(logs, "members=3") {
		t.Errorf("n1 logged no ring of 3 members:\n%s", logs)
	}
}

// startTestCluster starts n nodes joined through the first and waits until
// each sees all of them as members.
func startTestCluster(t *testing.T, n int, extra ...func(i int) []string) []*clusterProc {
	t.Helper()
	var procs []*clusterProc
	for i := range n {
		join := ""
		if i > 0 {
			join = procs[0].gossip
		}
		var args []string
		for _, f := range extra {
			args = append(args, f(i)...)
		}
		procs = append(procs, startClusterNode(t, fmt.Sprint("n", i+1), t.TempDir(),
			freePort(t), freePort(t), freePort(t), join, args...))
	}
	for _, p := range procs {
		waitStat(t, p, "cluster_members", fmt.Sprint(n))
	}
	return procs
}

// waitStat polls a node's stats until name reads want (60 s at most).
func waitStat(t *testing.T, p *clusterProc, name, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for statValue(t, p.addr, name) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s is %q, waited for %q; log:\n%s", p.id, name, statValue(t, p.addr, name), want, p.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRemoveRebuildsADeadNodesPartitions: of four real processes one is
// killed for good and removed with dynctl remove on another; the three
// left rebuild its partitions (N=3: each then holds every key), forget
// it, serve every key, and the removed node refuses to start on its old
// data directory. A replacement under a new ID then joins and catches up
// (the runbook in docs/operations.md).
func TestRemoveRebuildsADeadNodesPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	procs := startTestCluster(t, 4)
	const keys = 60
	setKeys(t, procs[0].addr, keys)
	gone := procs[3]
	gone.cmd.Process.Kill()
	gone.cmd.Wait()
	dynctl := buildDynctl(t)
	// Refused while gossip on n2 still sees it up; taken once it is down.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := exec.Command(dynctl, "-node", procs[1].addr, "remove", gone.id).CombinedOutput()
		if err == nil {
			if !strings.Contains(string(out), gone.id+" is out of the ring (version ") {
				t.Fatalf("dynctl remove said:\n%s", out)
			}
			break
		}
		if !strings.Contains(string(out), "cannot remove a node that is up") || time.Now().After(deadline) {
			t.Fatalf("dynctl remove: %v\n%s", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, p := range procs[:3] {
		waitStat(t, p, "cluster_members", "3")
		waitStat(t, p, "curr_items", fmt.Sprint(keys)) // N=3 over three nodes: each holds every key
		if line := statLine(t, p.addr, "admin status", "member:"+gone.id); line != "" {
			t.Errorf("%s still knows the removed node: %s", p.id, line)
		}
		if got := statLine(t, p.addr, "admin status", "removed"); got != gone.id {
			t.Errorf("%s: admin status removed = %q", p.id, got)
		}
	}
	checkKeys(t, procs[2].addr, keys, "after the removal")
	// Its old data may never come back: it will not start on it.
	cmd := exec.Command(dynamodBinary(t), "-node-id", gone.id, "-data", gone.dir, "-listen", gone.addr,
		"-gossip", gone.gossip, "-internode", gone.internode)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(logs.String(), "was removed from the cluster") {
			t.Fatalf("restart of the removed node: %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the removed node ran on for a minute:\n%s", logs.String())
	}
	// The replacement, as docs/operations.md says: an empty data
	// directory, a new ID, -join. It catches up its share and serves it.
	repl := startClusterNode(t, "n5", t.TempDir(), freePort(t), freePort(t), freePort(t), procs[0].gossip)
	for _, p := range append(procs[:3], repl) {
		waitStat(t, p, "cluster_members", "4")
	}
	deadline = time.Now().Add(60 * time.Second)
	for statLine(t, repl.addr, "admin transfers", "catchup_partitions") == "" ||
		statLine(t, repl.addr, "admin transfers", "cluster_partitions_catching_up") != "0" {
		if time.Now().After(deadline) {
			t.Fatalf("the replacement has not caught up in 60 s:\n%s", repl.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n, _ := strconv.Atoi(statValue(t, repl.addr, "curr_items")); n == 0 {
		t.Fatal("the replacement caught up and holds no key")
	}
	checkKeys(t, repl.addr, keys, "through the replacement")
}

// setKeys writes key0..key(n-1) = v0..v(n-1) through addr with a stock
// memcached client.
func setKeys(t *testing.T, addr string, n int) {
	t.Helper()
	mc := memcache.New(addr)
	mc.Timeout = 3 * time.Second
	for i := range n {
		if err := mc.Set(&memcache.Item{Key: fmt.Sprint("key", i), Value: []byte(fmt.Sprint("v", i))}); err != nil {
			t.Fatal(err)
		}
	}
}

// buildDynctl builds dynctl into the test's temporary directory.
func buildDynctl(t *testing.T) string {
	t.Helper()
	dynctl := filepath.Join(t.TempDir(), "dynctl")
	if out, err := exec.Command("go", "build", "-o", dynctl, "../dynctl").CombinedOutput(); err != nil {
		t.Fatalf("building dynctl: %v\n%s", err, out)
	}
	return dynctl
}

// checkKeys reads key0..key(n-1) through addr and wants the values
// setKeys wrote.
func checkKeys(t *testing.T, addr string, n int, when string) {
	t.Helper()
	mc := memcache.New(addr)
	mc.Timeout = 3 * time.Second
	for i := range n {
		it, err := mc.Get(fmt.Sprint("key", i))
		if err != nil || string(it.Value) != fmt.Sprint("v", i) {
			t.Fatalf("key%d %s: %+v %v", i, when, it, err)
		}
	}
}
