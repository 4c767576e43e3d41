// Package launch starts and stops a local cluster of dynamod processes on
// 127.0.0.1 for benchmarks and SLA runs: free ports, temporary data
// directories, the settings of a profile's [cluster] table, a wait until
// every node routes by a ring of all of them, and a stop by PID.
package launch

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Settings are the cluster's configuration (a profile's [cluster] table).
type Settings struct {
	Nodes           int    // processes; default max(3, N)
	N, R, W         int    // 0: dynamod's defaults
	Durability      string // buffered, wal, sync; "": dynamod's default
	DurableReplicas int
	WriteBuffer     int64
	FlushInterval   time.Duration
	Extra           []string // more dynamod flags for every node
}

// Cluster is a running local cluster.
type Cluster struct {
	Clients []string // memcached addresses, one per node
	dir     string
	procs   []*proc
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  string
}

// Start launches the nodes with the dynamod binary at bin and waits, up to
// timeout, until each reports all of them as members. A node that exits
// while starting (a port taken between choosing and binding it) is started
// again on new ports, up to three times.
func Start(bin string, s Settings, timeout time.Duration) (*Cluster, error) {
	if s.Nodes == 0 {
		s.Nodes = max(3, s.N)
	}
	dir, err := os.MkdirTemp("", "dynamo-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	var seed string
	for i := 1; i <= s.Nodes; i++ {
		var lastErr error
		for attempt := 1; attempt <= 3; attempt++ {
			var gossip string
			gossip, lastErr = c.startNode(bin, s, i, attempt, seed, timeout)
			if lastErr == nil {
				if seed == "" {
					seed = gossip
				}
				break
			}
		}
		if lastErr != nil {
			c.Stop()
			return nil, lastErr
		}
	}
	for _, a := range c.Clients {
		if err := waitStat(a, "cluster_members", strconv.Itoa(s.Nodes), nil, timeout); err != nil {
			c.Stop()
			return nil, fmt.Errorf("launch: %s: %w", a, err)
		}
	}
	return c, nil
}

// startNode starts node i and waits until it answers; it returns the
// node's gossip address.
func (c *Cluster) startNode(bin string, s Settings, i, attempt int, seed string, timeout time.Duration) (string, error) {
	client, gossip, internode := freeAddr(), freeAddr(), freeAddr()
	if client == "" || gossip == "" || internode == "" {
		return "", errors.New("launch: no free port on 127.0.0.1")
	}
	args := []string{"-node-id", fmt.Sprint("n", i), "-data", filepath.Join(c.dir, fmt.Sprint("n", i)),
		"-listen", client, "-gossip", gossip, "-internode", internode}
	if seed != "" {
		args = append(args, "-join", seed)
	}
	args = append(args, s.flags()...)
	logPath := filepath.Join(c.dir, fmt.Sprintf("n%d.%d.log", i, attempt))
	logf, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("launch: starting %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(p.done) }()
	if err := waitStat(client, "", "", p.done, timeout); err != nil {
		p.stop()
		tail, _ := os.ReadFile(logPath)
		return "", fmt.Errorf("launch: node n%d: %w; its log: %s", i, err, strings.TrimSpace(string(tail)))
	}
	c.procs = append(c.procs, p)
	c.Clients = append(c.Clients, client)
	return gossip, nil
}

func (s Settings) flags() []string {
	var f []string
	add := func(name, v string) { f = append(f, "-"+name, v) }
	if s.N > 0 {
		add("n", strconv.Itoa(s.N))
	}
	if s.R > 0 {
		add("r", strconv.Itoa(s.R))
	}
	if s.W > 0 {
		add("w", strconv.Itoa(s.W))
	}
	if s.Durability != "" {
		add("durability", s.Durability)
	}
	if s.DurableReplicas > 0 {
		add("durable-replicas", strconv.Itoa(s.DurableReplicas))
	}
	if s.WriteBuffer > 0 {
		add("buffer-bytes", strconv.FormatInt(s.WriteBuffer, 10))
	}
	if s.FlushInterval > 0 {
		add("flush-interval", s.FlushInterval.String())
	}
	return append(f, s.Extra...)
}

// Stop ends every node (SIGTERM, SIGKILL after 10 s) and removes the data.
func (c *Cluster) Stop() {
	for _, p := range c.procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range c.procs {
		p.wait()
	}
	os.RemoveAll(c.dir)
}

func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait()
}

func (p *proc) wait() {
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ""
	}
	defer l.Close()
	return l.Addr().String()
}

// waitStat polls addr until it answers (name == "") or its stats show
// name = want; it gives up early if exited is closed.
func waitStat(addr, name, want string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got, err := stat(addr, name)
		if err == nil && (name == "" || got == want) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the process exited while starting")
		default:
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("%s is %q, waited for %q", name, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stat(addr, name string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("stats\r\n")); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == "END\r\n" {
			return "", nil
		}
		if f := strings.Fields(line); len(f) == 3 && f[1] == name {
			return f[2], nil
		}
	}
}
