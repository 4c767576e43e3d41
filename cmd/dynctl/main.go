// Command dynctl administers a running cluster through any node's client
// port (the memcached text protocol's "admin" command).
//
//	dynctl -node 127.0.0.1:11211 status      members, state, zone, weight, partitions
//	dynctl -node 127.0.0.1:11211 ring        partition ranges and their preference lists, balance per member (-raw: the encoded ring)
//	dynctl -node 127.0.0.1:11211 hints       hinted writes this node holds, by owner
//	dynctl -node 127.0.0.1:11211 transfers   partitions this node is catching up, and its handoff so far
//	dynctl -node 127.0.0.1:11211 leave       the node leaves the ring; with -wait, follow its handoff to the end
//	dynctl -node 127.0.0.1:11211 rejoin      a node that left asks back in (restarting it does not)
//	dynctl -node 127.0.0.1:11211 remove ID   take a dead node out of the ring for good; the others rebuild its partitions
package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dynamo-kv/dynamo/cmd/internal/buildinfo"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
	"github.com/dynamo-kv/dynamo/protocol/tlsconf"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

var commands = map[string]string{
	"status":    "members with state, zone, weight and partition counts",
	"ring":      "partition ranges and their preference lists, and each member's share (-raw: the encoded ring)",
	"hints":     "hinted writes held by this node, per intended owner",
	"transfers": "partitions this node is catching up after a ring change, and its handoff so far",
	"leave":     "ask this node to leave the ring (its data moves to the new owners); -wait follows it to the end",
	"rejoin":    "ask a node that left back into the ring (a restart alone keeps it out)",
	"remove":    "remove ID: take a node that is down for good out of the ring; its partitions are rebuilt from the surviving replicas and it may never rejoin under that ID",
}

// withArg is the commands that take one argument.
var withArg = map[string]bool{"remove": true}

func run(args []string, stdout, stderr io.Writer) int {
	if buildinfo.Asked(args) {
		fmt.Fprintln(stdout, buildinfo.Line("dynctl"))
		return 0
	}
	fs := flag.NewFlagSet("dynctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	buildinfo.Register(fs)
	node := fs.String("node", "127.0.0.1:11211", "client address (HOST:PORT) of any node")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the node")
	raw := fs.Bool("raw", false, "ring: print the node's answer as it is (the encoded ring), not a table")
	auth := fs.String("auth", "", "log in as `USER:PASSWORD`, for a node started with -auth-file")
	useTLS := fs.Bool("tls", false, "speak TLS to the nodes (started with -tls-cert)")
	tlsCA := fs.String("tls-ca", "", "CA certificates `FILE` (PEM) that signed the nodes' certificates (default: the system's); implies -tls")
	tlsCert := fs.String("tls-cert", "", "client certificate `FILE` (PEM), for nodes started with -tls-client-ca; implies -tls")
	tlsKey := fs.String("tls-key", "", "private key `FILE` (PEM) of -tls-cert")
	wait := fs.Duration("wait", 0, "leave: follow the node's handoff until it holds nothing, at most this long (0: do not wait); remove: wait this long for the ring to drop the node (0: 30s)")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: dynctl [-node HOST:PORT] [-timeout D] [-raw] [-wait D] [-auth U:P] [-tls -tls-ca F] COMMAND [ID]\n\nCommands:\n")
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-10s %s\n", n, commands[n])
		}
		fmt.Fprintf(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "dynctl: %v\n", err)
		return 2
	}
	if fs.NArg() < 1 || commands[fs.Arg(0)] == "" {
		fmt.Fprintf(stderr, "dynctl: need one command: status, ring, hints, transfers, leave, rejoin or remove ID (dynctl -help)\n")
		return 2
	}
	if want := map[bool]int{false: 1, true: 2}[withArg[fs.Arg(0)]]; fs.NArg() != want {
		if want == 2 {
			fmt.Fprintf(stderr, "dynctl: %s needs the node's ID: dynctl %s ID\n", fs.Arg(0), fs.Arg(0))
		} else {
			fmt.Fprintf(stderr, "dynctl: %s takes no argument, got %q\n", fs.Arg(0), strings.Join(fs.Args()[1:], " "))
		}
		return 2
	}
	if *auth != "" && !strings.Contains(*auth, ":") {
		fmt.Fprintf(stderr, "dynctl: -auth must be USER:PASSWORD\n")
		return 2
	}
	conn = connSettings{auth: *auth}
	if *useTLS || *tlsCA != "" || *tlsCert != "" || *tlsKey != "" {
		cfg, err := tlsconf.Client(*tlsCA, *tlsCert, *tlsKey, false)
		if err != nil {
			fmt.Fprintf(stderr, "dynctl: %v\n", err)
			return 2
		}
		conn.tls = cfg
	}
	stats, err := admin(*node, strings.Join(fs.Args(), " "), *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "dynctl: %s: %v\n", *node, err)
		return 1
	}
	switch cmd := fs.Arg(0); {
	case cmd == "status":
		printStatus(stdout, stats)
	case cmd == "hints":
		printHints(stdout, *node, stats)
	case cmd == "transfers":
		printTransfers(stdout, *node, stats)
	case cmd == "ring" && !*raw:
		if err := printRing(stdout, stats); err != nil {
			fmt.Fprintf(stderr, "dynctl: %s: %v\n", *node, err)
			return 1
		}
	case cmd == "remove":
		if err := followRemove(stdout, *node, fs.Arg(1), *timeout, cmp.Or(*wait, 30*time.Second)); err != nil {
			fmt.Fprintf(stderr, "dynctl: %s: %v\n", *node, err)
			return 1
		}
	case cmd == "leave" && *wait > 0:
		fmt.Fprintf(stdout, "%s is leaving the ring; following its handoff\n", *node)
		if err := followLeave(stdout, *node, *timeout, *wait); err != nil {
			fmt.Fprintf(stderr, "dynctl: %s: %v\n", *node, err)
			return 1
		}
	default:
		for _, s := range stats {
			fmt.Fprintf(stdout, "%s %s\n", s[0], s[1])
		}
	}
	return 0
}

// admin sends "admin CMD" and returns the STAT lines as name/value pairs.
func admin(addr, cmd string, timeout time.Duration) ([][2]string, error) {
	return query(addr, "admin "+cmd, timeout)
}

// connSettings say how to reach a node's client port: over TLS or not,
// logged in or not. Set once by run from the flags.
type connSettings struct {
	tls  *tls.Config // nil: plain TCP
	auth string      // "user:password", or "" for no login
}

var conn connSettings

// dial connects to a node's client port as conn says, within timeout.
func dial(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	if conn.tls != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if c, err = tlsconf.Handshake(ctx, c, addr, conn.tls); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
	}
	if conn.auth != "" {
		user, pass, _ := strings.Cut(conn.auth, ":")
		if err := memcache.Login(c, user, pass); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// query sends one command line and returns the STAT lines of its answer.
func query(addr, line string, timeout time.Duration) ([][2]string, error) {
	c, err := dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(c, "%s\r\n", line); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	var out [][2]string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "END":
			return out, nil
		case strings.HasPrefix(line, "STAT "):
			name, value, _ := strings.Cut(line[5:], " ")
			out = append(out, [2]string{name, value})
		default:
			return nil, errors.New(line)
		}
	}
}

// printStatus lays out "member:ID k=v ..." lines as a table.
func printStatus(w io.Writer, stats [][2]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cols := []string{"state", "zone", "weight", "partitions", "replicas", "client", "internode"}
	var members [][2]string
	for _, s := range stats {
		if strings.HasPrefix(s[0], "member:") {
			members = append(members, s)
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", s[0], s[1])
	}
	fmt.Fprintf(tw, "\nMEMBER\t%s\n", strings.ToUpper(strings.Join(cols, "\t")))
	for _, m := range members {
		f := fields(m[1])
		row := []string{strings.TrimPrefix(m[0], "member:")}
		for _, c := range cols {
			v := f[c]
			if v == "" {
				v = "-"
			}
			row = append(row, v)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}
