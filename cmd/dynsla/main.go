// Command dynsla runs a performance profile end to end: it starts a local
// cluster configured by the profile's [cluster] table, runs bin/loadgen
// with the profile against every node, prints loadgen's report, stops the
// cluster, and exits with loadgen's status (1 when the SLA is missed).
//
//	dynsla perf/shopping-cart.toml
//	make sla PROFILE=perf/shopping-cart.toml
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dynamo-kv/dynamo/cmd/internal/buildinfo"
	"github.com/dynamo-kv/dynamo/loadgen/profile"
	"github.com/dynamo-kv/dynamo/perf/launch"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if buildinfo.Asked(args) {
		fmt.Fprintln(stdout, buildinfo.Line("dynsla"))
		return 0
	}
	fs := flag.NewFlagSet("dynsla", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	buildinfo.Register(fs)
	bin := fs.String("bin", "bin", "directory holding dynamod and loadgen")
	nodes := fs.Int("nodes", 0, "cluster size (0: max(3, N))")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: dynsla [-bin DIR] [-nodes K] PROFILE.toml [loadgen flags...]\n\nStarts a local cluster as the profile's [cluster] table says, runs loadgen with the profile, stops the cluster; exit status 1 when the SLA is missed.\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "dynsla: %v\n", err)
		return 2
	}
	if fs.NArg() < 1 {
		fmt.Fprintf(stderr, "dynsla: name a profile, e.g. perf/shopping-cart.toml (dynsla -help)\n")
		return 2
	}
	path := fs.Arg(0)
	p, err := profile.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "dynsla: %v\n", err)
		return 2
	}
	s := launch.Settings{Nodes: *nodes}
	if c := p.Cluster; c != nil {
		s.N, s.R, s.W, s.Durability, s.DurableReplicas = c.N, c.R, c.W, c.Durability, c.DurableReplicas
		s.WriteBuffer, s.FlushInterval = c.WriteBuffer, c.FlushInterval
	}
	fmt.Fprintf(stdout, "dynsla: starting %s cluster for %s\n", describe(s), path)
	cl, err := launch.Start(filepath.Join(*bin, "dynamod"), s, 60*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "dynsla: %v\n", err)
		return 3
	}
	defer cl.Stop()
	lg := exec.Command(filepath.Join(*bin, "loadgen"), append([]string{"-profile", path, "-target", strings.Join(cl.Clients, ","), "-quiet"}, fs.Args()[1:]...)...)
	lg.Stdout, lg.Stderr = stdout, stderr
	err = lg.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	fmt.Fprintf(stderr, "dynsla: running loadgen: %v\n", err)
	return 3
}

func describe(s launch.Settings) string {
	n := s.Nodes
	if n == 0 {
		n = max(3, s.N)
	}
	d := s.Durability
	if d == "" {
		d = "buffered"
	}
	return fmt.Sprintf("%d-node (N=%d R=%d W=%d, %s, %d durable replicas)", n, s.N, s.R, s.W, d, s.DurableReplicas)
}
