package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// network is where the nodes run: each in a network namespace of its
// own, with its own address, joined by veth pairs to a bridge that lives
// in a namespace of its own, and the harness's clients in one more. Only
// addresses inside these namespaces are ever used: the host's network is
// not touched. Faults are iptables rules (partitions, loss) and a tc
// token bucket (a slow link) inside a node's namespace. When namespaces
// cannot be made, nodes run on 127.0.0.x and only process faults are
// possible.
type network struct {
	prefix     string
	namespaces bool
	ips        []string // node i's address
	clientIP   string
}

const subnet = "10.77.0"

func (nw *network) nodeNS(i int) string { return fmt.Sprintf("%s-n%d", nw.prefix, i+1) }
func (nw *network) switchNS() string    { return nw.prefix + "-sw" }
func (nw *network) clientNS() string    { return nw.prefix + "-cl" }

// sh executes a command and returns its error with its output.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// inNS runs a command inside namespace ns.
func inNS(ns string, args ...string) error {
	return sh(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

// lockPrefix makes sure one harness at a time uses a namespace prefix:
// a second run would delete and recreate the first one's namespaces and
// drive its nodes. The lock is released when the process exits.
func lockPrefix(prefix string) error {
	path := filepath.Join(os.TempDir(), "dynchaos-"+prefix+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("another dynchaos uses namespace prefix %q (%s); give this one another -prefix", prefix, path)
	}
	return nil // f stays open, and locked, until exit
}

// setupNetwork makes the namespaces for n nodes, or falls back to
// loopback addresses when it cannot (no root, no ip command, no iptables).
func setupNetwork(prefix string, n int, allowFallback bool) (*network, error) {
	if err := lockPrefix(prefix); err != nil {
		return nil, err
	}
	nw := &network{prefix: prefix, namespaces: true, clientIP: subnet + ".2"}
	for i := range n {
		nw.ips = append(nw.ips, fmt.Sprintf("%s.%d", subnet, 11+i))
	}
	nw.teardown() // what a crashed run left behind
	err := nw.build()
	if err == nil {
		return nw, nil
	}
	nw.teardown()
	if !allowFallback {
		return nil, fmt.Errorf("network namespaces: %w", err)
	}
	fb := &network{prefix: prefix, clientIP: "127.0.0.1"}
	for i := range n {
		fb.ips = append(fb.ips, fmt.Sprintf("127.0.0.%d", 11+i))
	}
	fmt.Fprintf(os.Stderr, "dynchaos: no network namespaces (%v); nodes run on 127.0.0.x and network faults are skipped\n", err)
	return fb, nil
}

func (nw *network) build() error {
	for _, tool := range []string{"ip", "iptables", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (Debian: iproute2, iptables)", tool)
		}
	}
	sw := nw.switchNS()
	steps := [][]string{
		{"ip", "netns", "add", sw},
		{"ip", "-n", sw, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", sw, "link", "set", "br0", "up"},
		{"ip", "-n", sw, "link", "set", "lo", "up"},
	}
	attach := func(ns, ip, port string) {
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
			[]string{"ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", sw},
			[]string{"ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", sw, "link", "set", port, "master", "br0"},
			[]string{"ip", "-n", sw, "link", "set", port, "up"},
		)
	}
	attach(nw.clientNS(), nw.clientIP, "pc")
	for i, ip := range nw.ips {
		attach(nw.nodeNS(i), ip, fmt.Sprintf("p%d", i+1))
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return err
		}
	}
	for i := range nw.ips {
		ns := nw.nodeNS(i)
		for _, s := range [][]string{
			{"iptables", "-N", "DCHAOS"},
			{"iptables", "-A", "INPUT", "-j", "DCHAOS"},
			{"iptables", "-A", "OUTPUT", "-j", "DCHAOS"},
		} {
			if err := inNS(ns, s...); err != nil {
				return err
			}
		}
	}
	return nil
}

// teardown deletes this harness's namespaces (and with them their links
// and rules); the host's own are never named.
func (nw *network) teardown() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.HasPrefix(name, nw.prefix+"-") {
			_ = sh("ip", "netns", "del", name)
		}
	}
}

// command returns the argv that runs a node's process in its namespace.
func (nw *network) command(i int, argv []string) []string {
	if !nw.namespaces {
		return argv
	}
	return append([]string{"ip", "netns", "exec", nw.nodeNS(i)}, argv...)
}

// dial connects from the clients' namespace. A socket belongs to the
// namespace of the thread that made it, so the dial runs on a locked
// thread that enters the namespace and is thrown away afterwards.
func (nw *network) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	if !nw.namespaces {
		return d.DialContext(ctx, "tcp", addr)
	}
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		fd, err := unix.Open("/run/netns/"+nw.clientNS(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- result{nil, err}
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			done <- result{nil, err}
			return
		}
		c, err := d.DialContext(ctx, "tcp", addr)
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}

var errNoNetFaults = errors.New("network faults need namespaces")

// cut drops all traffic between node i and each node of others, both
// ways (rules in both namespaces, so either side's view is symmetric).
func (nw *network) cut(i int, others []int) error {
	if !nw.namespaces {
		return errNoNetFaults
	}
	for _, j := range others {
		for _, pair := range [][2]int{{i, j}, {j, i}} {
			ns, peer := nw.nodeNS(pair[0]), nw.ips[pair[1]]
			if err := inNS(ns, "iptables", "-A", "DCHAOS", "-s", peer, "-j", "DROP"); err != nil {
				return err
			}
			if err := inNS(ns, "iptables", "-A", "DCHAOS", "-d", peer, "-j", "DROP"); err != nil {
				return err
			}
		}
	}
	return nil
}

// loss drops a fraction p of node i's packets to and from other nodes
// (not its clients).
func (nw *network) loss(i int, p float64) error {
	if !nw.namespaces {
		return errNoNetFaults
	}
	ns := nw.nodeNS(i)
	for _, rule := range [][]string{
		{"-s", nw.clientIP, "-j", "RETURN"}, // clients' traffic is not the fault
		{"-d", nw.clientIP, "-j", "RETURN"},
		{"-m", "statistic", "--mode", "random", "--probability", fmt.Sprintf("%.2f", p), "-j", "DROP"},
	} {
		if err := inNS(ns, append([]string{"iptables", "-A", "DCHAOS"}, rule...)...); err != nil {
			return err
		}
	}
	return nil
}

// slow puts a token bucket on node i's link: about 1 Mbit/s with up to
// 300 ms of queue, so messages wait behind each other. (netem would
// give a plain delay, but this kernel has no netem.)
func (nw *network) slow(i int) error {
	if !nw.namespaces {
		return errNoNetFaults
	}
	return inNS(nw.nodeNS(i), "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf",
		"rate", "1mbit", "burst", "32kbit", "latency", "300ms")
}

// heal removes every network fault of node i.
func (nw *network) heal(i int) error {
	if !nw.namespaces {
		return nil
	}
	err := inNS(nw.nodeNS(i), "iptables", "-F", "DCHAOS")
	_ = inNS(nw.nodeNS(i), "tc", "qdisc", "del", "dev", "eth0", "root") // fails when there is none
	return err
}
