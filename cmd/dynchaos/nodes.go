package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/tlsconf/tlstest"
)

// Ports below the ephemeral range, so that a client redialling a dead
// node can never connect to itself. Every node has an address of its own.
const (
	clientPort    = 11211
	internodePort = 7100
	gossipPort    = 7946
)

// node is one dynamod process the harness started and may kill, pause
// and restart. Only PIDs it started are ever signalled.
type node struct {
	i    int
	id   string
	ip   string
	dir  string
	log  string
	argv []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
}

func (n *node) clientAddr() string { return fmt.Sprintf("%s:%d", n.ip, clientPort) }

// cluster is the nodes of one schedule.
type cluster struct {
	nw    *network
	nodes []*node
}

// newCluster lays out n nodes under dir: node 1 starts the cluster and
// the others join it, as `make cluster` does; a restart reuses the same
// command line, so node 1 comes back without -join.
func newCluster(nw *network, bin, dir string, n int, extra []string) *cluster {
	c := &cluster{nw: nw}
	for i := range n {
		nd := &node{i: i, id: fmt.Sprintf("n%d", i+1), ip: nw.ips[i]}
		nd.dir = filepath.Join(dir, nd.id)
		nd.log = filepath.Join(dir, nd.id+".log")
		nd.argv = []string{bin,
			"-node-id", nd.id,
			"-listen", nd.clientAddr(),
			"-internode", fmt.Sprintf("%s:%d", nd.ip, internodePort),
			"-gossip", fmt.Sprintf("%s:%d", nd.ip, gossipPort),
			"-data", nd.dir,
			// Replicas that differ where no request reads (a clock one of
			// them holds more of) converge only by anti-entropy: a cycle
			// a third of the check's minute lets the check wait for it.
			"-anti-entropy-cycle", "20s",
		}
		if i > 0 {
			nd.argv = append(nd.argv, "-join", fmt.Sprintf("%s:%d", nw.ips[0], gossipPort))
		}
		nd.argv = append(nd.argv, extra...)
		c.nodes = append(c.nodes, nd)
	}
	return c
}

// secure makes a CA, a certificate for each node and a gossip key in dir,
// and adds the flags that use them to every node's command line: the
// faults then run against mutual TLS between nodes and encrypted gossip,
// as a cluster beyond a trusted network runs.
func (c *cluster) secure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := tlstest.MakeCA(dir, "chaos-cluster")
	if err != nil {
		return err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	keyFile := filepath.Join(dir, "gossip.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return err
	}
	for _, nd := range c.nodes {
		cert, certKey, err := ca.IssueFor(nd.id, net.ParseIP(nd.ip))
		if err != nil {
			return err
		}
		nd.argv = append(nd.argv, "-internode-tls-cert", cert, "-internode-tls-key", certKey,
			"-internode-tls-ca", ca.CertFile, "-gossip-key-file", keyFile)
	}
	return nil
}

// start runs node i; its output is appended to its log, never truncated,
// so the log of a crash survives the restart.
func (c *cluster) start(i int) error {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("%s is already running", n.id)
	}
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== dynchaos: start %s at %s\n", n.id, time.Now().Format(time.RFC3339Nano))
	argv := c.nw.command(i, n.argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	// No Pdeathsig: it fires when the thread that started the child ends,
	// and the clients' namespace dials end their threads. run's signal
	// handler stops the nodes instead.
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(exited)
	}()
	n.cmd, n.exited, n.paused = cmd, exited, false
	liveNodes.add(cmd)
	go func() { <-exited; liveNodes.remove(cmd) }()
	return nil
}

// liveNodes is every process this harness started and that still runs,
// so an interrupted run can kill them (by PID, nothing else).
var liveNodes = &procSet{m: map[*exec.Cmd]bool{}}

type procSet struct {
	mu sync.Mutex
	m  map[*exec.Cmd]bool
}

func (p *procSet) add(c *exec.Cmd)    { p.mu.Lock(); p.m[c] = true; p.mu.Unlock() }
func (p *procSet) remove(c *exec.Cmd) { p.mu.Lock(); delete(p.m, c); p.mu.Unlock() }

func (p *procSet) killAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.m {
		_ = c.Process.Signal(syscall.SIGCONT)
		_ = c.Process.Kill()
	}
}

// signal sends sig to node i's process if it runs.
func (c *cluster) signal(i int, sig syscall.Signal) error {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("%s is not running", n.id)
	}
	return n.cmd.Process.Signal(sig)
}

// kill ends node i with SIGKILL and waits for it to be gone.
func (c *cluster) kill(i int) error {
	n := c.nodes[i]
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	n.mu.Lock()
	n.cmd, n.paused = nil, false
	n.mu.Unlock()
	return nil
}

func (c *cluster) pause(i int) error {
	c.nodes[i].mu.Lock()
	c.nodes[i].paused = true
	c.nodes[i].mu.Unlock()
	return c.signal(i, syscall.SIGSTOP)
}

func (c *cluster) resume(i int) error {
	c.nodes[i].mu.Lock()
	c.nodes[i].paused = false
	c.nodes[i].mu.Unlock()
	return c.signal(i, syscall.SIGCONT)
}

// running reports whether node i's process is up (paused counts).
func (c *cluster) running(i int) bool {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// stop ends every node: SIGCONT (a paused process cannot act on SIGTERM),
// SIGTERM, and SIGKILL for any still running after the grace period.
func (c *cluster) stop(grace time.Duration) {
	var wg sync.WaitGroup
	for i := range c.nodes {
		if !c.running(i) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.resume(i)
			_ = c.signal(i, syscall.SIGTERM)
			n := c.nodes[i]
			select {
			case <-n.exited:
			case <-time.After(grace):
			}
			_ = c.kill(i)
		}()
	}
	wg.Wait()
}

// admin runs one admin command on node i.
func (c *cluster) admin(ctx context.Context, i int, args ...string) (map[string]string, error) {
	m, err := dialMC(ctx, c.nw.dial, c.nodes[i].clientAddr(), 3*time.Second)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return m.Admin(args...)
}

// allUp reports whether node i sees every node up and in its ring.
func (c *cluster) allUp(ctx context.Context, i int) bool {
	st, err := c.admin(ctx, i, "status")
	if err != nil {
		return false
	}
	for _, n := range c.nodes {
		v, ok := st["member:"+n.id]
		if !ok || !strings.HasPrefix(v, "state=up,") || strings.Contains(v, ",partitions=0,") {
			return false
		}
	}
	return true
}

// hintsHeld is how many hints node i holds.
func (c *cluster) hintsHeld(ctx context.Context, i int) (int, error) {
	h, err := c.admin(ctx, i, "hints")
	if err != nil {
		return 0, err
	}
	total := 0
	for name, v := range h {
		if strings.HasPrefix(name, "hints:") {
			n, _ := strconv.Atoi(v)
			total += n
		}
	}
	return total, nil
}

// waitUntil polls cond every interval until it holds or timeout passes,
// and returns how long it took.
func waitUntil(timeout, interval time.Duration, cond func() bool) (time.Duration, error) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), errors.New("timed out")
		}
		time.Sleep(interval)
	}
}
