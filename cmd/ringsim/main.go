// Command ringsim measures the ring's placement over cluster shapes: for
// each node count and partition count it builds a ring and reports
// ownership and replica balance, the partitions one join and one leave
// move, zone spread, window violations and failover spread, each beside
// its ideal.
//
//	go run ./cmd/ringsim                       # the default table
//	go run ./cmd/ringsim -zones 3 -n 3         # three zones, nodes spread round-robin
//	go run ./cmd/ringsim -weights 1,2 -q 4096  # alternate weights 1 and 2
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dynamo-kv/dynamo/cmd/internal/buildinfo"
)

type options struct {
	nodes    []int
	parts    []int
	replicas int
	zones    int
	weights  []float64
}

func main() {
	if buildinfo.Asked(os.Args[1:]) {
		fmt.Println(buildinfo.Line("ringsim"))
		return
	}
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ringsim:", err)
		os.Exit(2)
	}
	if err := run(os.Stdout, opts); err != nil {
		fmt.Fprintln(os.Stderr, "ringsim:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, errOut io.Writer) (options, error) {
	fs := flag.NewFlagSet("ringsim", flag.ContinueOnError)
	fs.SetOutput(errOut)
	buildinfo.Register(fs)
	nodes := fs.String("nodes", "4,8,16,32,64,128,256,512,1000", "comma-separated node counts")
	parts := fs.String("q", "1024,4096,65536", "comma-separated partition counts Q (powers of two); each node count runs with each Q it can hold")
	replicas := fs.Int("n", 3, "replication factor N")
	zones := fs.Int("zones", 0, "number of zones, nodes assigned round-robin (0: no zones)")
	weights := fs.String("weights", "1", "comma-separated weights, cycled over the nodes")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o := options{replicas: *replicas, zones: *zones}
	var err error
	if o.nodes, err = parseList(*nodes, strconv.Atoi); err != nil {
		return o, fmt.Errorf("-nodes: %w", err)
	}
	if o.parts, err = parseList(*parts, strconv.Atoi); err != nil {
		return o, fmt.Errorf("-q: %w", err)
	}
	parseFloat := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	if o.weights, err = parseList(*weights, parseFloat); err != nil {
		return o, fmt.Errorf("-weights: %w", err)
	}
	return o, nil
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func run(w io.Writer, o options) error {
	fmt.Fprintf(w, "N=%d zones=%d weights=%v; each cell is measured (ideal)\n\n", o.replicas, o.zones, o.weights)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "nodes\tQ\tQ/node\tprimary max/mean\treplica max/mean\tjoin moved\tleave moved\tjoin replicas moved\tleave replicas moved\tzone spread\tbad windows\tfailover max\tbuild ms\t")
	for _, q := range o.parts {
		for _, n := range o.nodes {
			if n > q {
				continue
			}
			row, err := measure(q, n, o)
			if err != nil {
				return fmt.Errorf("Q=%d nodes=%d: %w", q, n, err)
			}
			fmt.Fprintln(tw, row.String())
		}
	}
	return tw.Flush()
}
