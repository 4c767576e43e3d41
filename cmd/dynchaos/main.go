// Command dynchaos is the cluster's fault harness, in the manner of
// Jepsen: it starts real dynamod processes, each in a network namespace of
// its own, drives clients through every node while a seeded nemesis kills,
// pauses, partitions and degrades them, heals everything, and then checks
// every acknowledged write against what the nodes answer. A failing seed
// replays the same fault schedule and the same client choices.
//
//	dynchaos -seeds 1-20 -faults 30s      # needs root (ip netns, iptables)
//
// Its last lines are the totals: acknowledged writes lost, values
// resurrected, lost increments, lost set elements, replicas not converged,
// availability during faults, and "N passed, M failed".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dynamo-kv/dynamo/cmd/internal/buildinfo"
	"github.com/dynamo-kv/dynamo/engine/check"
)

func main() { os.Exit(run(os.Args[1:])) }

type options struct {
	dynamod  string
	seeds    []uint64
	faults   time.Duration
	nodes    int
	converge time.Duration
	after    time.Duration
	out      string
	prefix   string
	nodeArgs []string
	probes   bool
	fallback bool
	keepData bool
	secure   bool
	workload workloadConfig
}

func parseFlags(args []string) (options, error) {
	o := options{workload: defaultWorkload()}
	fs := flag.NewFlagSet("dynchaos", flag.ContinueOnError)
	buildinfo.Register(fs)
	fs.StringVar(&o.dynamod, "dynamod", "bin/dynamod", "the dynamod binary to test")
	seeds := fs.String("seeds", "1-3", "schedules to run: seeds as N, N-M, or a comma-separated list of those")
	fs.DurationVar(&o.faults, "faults", 30*time.Second, "length of each schedule's fault window")
	fs.IntVar(&o.nodes, "nodes", 3, "nodes per cluster (N=3 R=2 W=2)")
	fs.DurationVar(&o.converge, "converge", 60*time.Second, "how long after healing the replicas have to converge")
	fs.DurationVar(&o.after, "after", 5*time.Second, "how long the clients keep going after the faults are healed")
	fs.StringVar(&o.out, "out", "chaos-out", "directory for each schedule's node data, logs, history and verdict")
	fs.StringVar(&o.prefix, "prefix", "dch", "prefix of the network namespaces this run creates (and deletes)")
	nodeArgs := fs.String("node-args", "-tombstone-ttl 3s", "extra dynamod flags for every node")
	fs.BoolVar(&o.secure, "secure", true, "run the nodes as a secured cluster is run: mutual TLS between them and encrypted gossip (a throwaway CA, certificates and gossip key per schedule)")
	fs.BoolVar(&o.probes, "probes", true, "run the healthy-cluster probes (conditional commands, contexts, cas) before the faults")
	fs.BoolVar(&o.keepData, "keep-data", false, "keep each schedule's node data directories (over a gigabyte each: Pebble preallocates its logs); logs, history and verdict are always kept")
	fs.BoolVar(&o.fallback, "loopback-ok", true, "without network namespaces, run on 127.0.0.x with process faults only (reported) instead of failing")
	fs.IntVar(&o.workload.RegisterClients, "register-clients", o.workload.RegisterClients, "clients writing registers (each owns its keys)")
	fs.IntVar(&o.workload.CounterClients, "counter-clients", o.workload.CounterClients, "clients incrementing shared counters")
	fs.IntVar(&o.workload.SetClients, "set-clients", o.workload.SetClients, "clients adding to shared sets with contexts")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.seeds, err = parseSeeds(*seeds); err != nil {
		return o, err
	}
	o.nodeArgs = strings.Fields(*nodeArgs)
	switch {
	case o.nodes < 3:
		return o, errors.New("-nodes must be at least 3 (N=3)")
	case o.faults < 5*time.Second:
		return o, errors.New("-faults must be at least 5s")
	}
	if _, err := os.Stat(o.dynamod); err != nil {
		return o, fmt.Errorf("-dynamod: %v (make build)", err)
	}
	o.dynamod, _ = filepath.Abs(o.dynamod)
	return o, nil
}

// parseSeeds reads "7", "1-100" or "1,5,9-12".
func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("-seeds: %q is not a seed", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a || b-a > 100_000 {
				return nil, fmt.Errorf("-seeds: %q is not a range", part)
			}
		}
		for x := a; x <= b; x++ {
			out = append(out, x)
		}
	}
	return out, nil
}

// verdict is one schedule's result.
type verdict struct {
	Seed           uint64
	Report         check.Report
	Probes         []probeResult
	ProbeFailures  int
	Requests       int // during faults, to nodes not impaired
	Refused        int
	Unknown        int
	NotConverged   int
	MembersAfter   time.Duration // from healing until every node saw every node up
	HintsAfter     time.Duration // from healing until no node held a hint
	ConvergedAfter time.Duration // from the clients' last request until every key's replicas were byte-identical
	SetupErr       string
	NetFaults      bool
}

func (v *verdict) passed() bool {
	return v.SetupErr == "" && v.Report.Failures() == 0 && v.ProbeFailures == 0 && v.NotConverged == 0
}

func run(args []string) int {
	if buildinfo.Asked(args) {
		fmt.Println(buildinfo.Line("dynchaos"))
		return 0
	}
	o, err := parseFlags(args)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "dynchaos: %v\n", err)
		}
		return 2
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "dynchaos: %v\n", err)
		return 1
	}
	nw, err := setupNetwork(o.prefix, o.nodes, o.fallback)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dynchaos: %v\n", err)
		return 1
	}
	defer nw.teardown()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "dynchaos: %v: stopping the nodes\n", sig)
		liveNodes.killAll()
		nw.teardown()
		os.Exit(130)
	}()
	var verdicts []verdict
	for _, seed := range o.seeds {
		v := runSchedule(o, nw, seed)
		verdicts = append(verdicts, v)
		fmt.Println(line(&v))
	}
	printTotals(verdicts)
	for _, v := range verdicts {
		if !v.passed() {
			return 1
		}
	}
	return 0
}

func line(v *verdict) string {
	r := &v.Report
	status := "PASS"
	if !v.passed() {
		status = "FAIL"
	}
	if v.SetupErr != "" {
		return fmt.Sprintf("seed %d: FAIL setup: %s", v.Seed, v.SetupErr)
	}
	return fmt.Sprintf("seed %d: %s lost=%d resurrected=%d lost-incr=%d lost-elem=%d probes=%d unconverged=%d avail=%.1f%% members=%.1fs hints=%.1fs data=%.1fs",
		v.Seed, status, r.Lost, r.Resurrected, r.LostIncrements, r.LostElements, v.ProbeFailures, v.NotConverged,
		100*avail(v.Requests, v.Refused+v.Unknown), v.MembersAfter.Seconds(), v.HintsAfter.Seconds(), v.ConvergedAfter.Seconds())
}

func avail(total, bad int) float64 {
	if total == 0 {
		return 1
	}
	return float64(total-bad) / float64(total)
}

func runSchedule(o options, nw *network, seed uint64) (v verdict) {
	v.Seed, v.NetFaults = seed, nw.namespaces
	dir := filepath.Join(o.out, fmt.Sprintf("seed-%d", seed))
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		v.SetupErr = err.Error()
		return v
	}
	logf, _ := os.Create(filepath.Join(dir, "events.log"))
	defer logf.Close()
	var logMu sync.Mutex
	logEvent := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(logf, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	schedule := makeSchedule(seed, o.nodes, o.faults, nw.namespaces)
	_ = os.WriteFile(filepath.Join(dir, "schedule.txt"), []byte(scheduleString(schedule)), 0o644)

	c := newCluster(nw, o.dynamod, dir, o.nodes, o.nodeArgs)
	if o.secure {
		if err := c.secure(filepath.Join(dir, "secrets")); err != nil {
			v.SetupErr = "securing the cluster: " + err.Error()
			return v
		}
	} else {
		for _, nd := range c.nodes {
			nd.argv = append(nd.argv, "-gossip-insecure") // namespace addresses are beyond loopback
		}
	}
	defer func() {
		c.stop(10 * time.Second)
		if !o.keepData {
			for _, n := range c.nodes {
				_ = os.RemoveAll(n.dir)
			}
		}
	}()
	ctx := context.Background()
	if err := c.start(0); err != nil {
		v.SetupErr = err.Error()
		return v
	}
	if _, err := waitUntil(60*time.Second, 100*time.Millisecond, func() bool {
		_, err := c.admin(ctx, 0, "status")
		return err == nil
	}); err != nil {
		v.SetupErr = "n1 did not start; see " + c.nodes[0].log
		return v
	}
	for i := 1; i < o.nodes; i++ {
		if err := c.start(i); err != nil {
			v.SetupErr = err.Error()
			return v
		}
	}
	if _, err := waitUntil(90*time.Second, 200*time.Millisecond, func() bool {
		for i := range c.nodes {
			if !c.allUp(ctx, i) {
				return false
			}
		}
		return true
	}); err != nil {
		v.SetupErr = "the cluster did not form; see the node logs in " + dir
		return v
	}
	logEvent("cluster up")

	rec := &recorder{hist: check.History{CounterBase: map[string]uint64{}}}
	_, counters, _ := allKeys(o.workload)
	for _, key := range counters {
		if _, err := waitUntil(30*time.Second, 200*time.Millisecond, func() bool {
			m, err := probeConn(ctx, c, 0)
			if err != nil {
				return false
			}
			defer m.Close()
			return m.Set(key, "0", 0) == nil
		}); err != nil {
			v.SetupErr = "could not create counter " + key
			return v
		}
		rec.hist.CounterBase[key] = 0
	}
	if o.probes {
		v.Probes = runProbes(ctx, c)
		for _, p := range v.Probes {
			v.ProbeFailures += p.anomalies
			if p.anomalies > 0 {
				logEvent("probe %q: %d anomalies; first: %s", p.name, p.anomalies, p.first)
			}
		}
	}

	tl := &timeline{}
	nm := &nemesis{c: c, tl: tl, log: logEvent, start: time.Now()}
	wctx, stopClients := context.WithCancel(ctx)
	clientsDone := make(chan struct{})
	go func() {
		runWorkload(wctx, c, o.workload, seed, rec)
		close(clientsDone)
	}()
	nm.run(schedule, o.faults)
	nm.healAll()
	healed := time.Now()
	logEvent("healed")
	// From the moment everything is healed: how long until every node
	// sees every node up, and until no hint is held (clients still
	// writing, as in production).
	var recovery sync.WaitGroup
	recovery.Add(2)
	go func() {
		defer recovery.Done()
		_, err := waitUntil(o.converge, 250*time.Millisecond, func() bool {
			for i := range c.nodes {
				if !c.allUp(ctx, i) {
					return false
				}
			}
			return true
		})
		v.MembersAfter = time.Since(healed)
		if err != nil {
			logEvent("members not all up %.0fs after healing", v.MembersAfter.Seconds())
		}
	}()
	go func() {
		defer recovery.Done()
		_, err := waitUntil(o.converge, 250*time.Millisecond, func() bool {
			for i := range c.nodes {
				if n, err := c.hintsHeld(ctx, i); err != nil || n > 0 {
					return false
				}
			}
			return true
		})
		v.HintsAfter = time.Since(healed)
		if err != nil {
			logEvent("hints still held %.0fs after healing", v.HintsAfter.Seconds())
		}
	}()
	time.Sleep(o.after)
	stopClients()
	<-clientsDone
	stopped := time.Now()
	logEvent("clients stopped")

	// Availability: requests sent while a fault was active, to a node that
	// the fault did not take out of reach.
	for _, r := range rec.reqs {
		if r.at.After(healed) {
			continue
		}
		faulty, impaired := tl.at(r.at, r.node)
		if !faulty || impaired {
			continue
		}
		v.Requests++
		switch r.outcome {
		case check.Failed:
			v.Refused++
		case check.Unknown:
			v.Unknown++
		}
	}

	registers, counterKeys, sets := allKeys(o.workload)
	keys := append(append(append([]string(nil), registers...), counterKeys...), sets...)
	// From the last client request: how long until every key's replicas
	// hold the same record.
	var unconverged []string
	_, cerr := waitUntil(o.converge, 500*time.Millisecond, func() bool {
		unconverged = diverged(ctx, c, keys)
		return len(unconverged) == 0
	})
	v.ConvergedAfter = time.Since(stopped)
	if cerr != nil {
		v.NotConverged = len(unconverged)
		logEvent("%d keys not converged %.0fs after the clients stopped, e.g. %s", len(unconverged), o.converge.Seconds(), unconverged[0])
		for _, key := range unconverged[:min(len(unconverged), 5)] {
			for i, nd := range c.nodes {
				st, err := c.admin(ctx, i, "record", key)
				logEvent("  %s on %s: %v %v", key, nd.id, st, err)
			}
		}
	}
	recovery.Wait()
	// Every TTL the clients set (at most 3 s) has run out by the final
	// reads, so no answer depends on when each node is asked.
	sleepUntil(stopped.Add(4 * time.Second))
	rec.hist.Final = finalReads(ctx, c, o.workload)
	v.Report = check.Check(&rec.hist, check.Options{ExpirySlack: 2 * time.Second})
	for _, e := range v.Report.Examples {
		logEvent("violation: %s", e)
	}
	writeJSON(filepath.Join(dir, "history.json"), &rec.hist)
	writeJSON(filepath.Join(dir, "verdict.json"), &v)
	return v
}

// diverged lists the keys whose records differ between nodes, as each
// node holds them (admin digest: no quorum, no read repair).
func diverged(ctx context.Context, c *cluster, keys []string) []string {
	per := make([]map[string]string, len(c.nodes))
	for i := range c.nodes {
		per[i] = map[string]string{}
		for start := 0; start < len(keys); start += 50 {
			chunk := keys[start:min(start+50, len(keys))]
			st, err := c.admin(ctx, i, append([]string{"digest"}, chunk...)...)
			if err != nil {
				return keys // a node that cannot answer has not converged
			}
			for k, d := range st {
				per[i][strings.TrimPrefix(k, "digest:")] = d
			}
		}
	}
	var out []string
	for _, k := range keys {
		for i := 1; i < len(per); i++ {
			if per[i][k] != per[0][k] {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

func writeJSON(path string, v any) {
	b, err := json.MarshalIndent(v, "", " ")
	if err == nil {
		_ = os.WriteFile(path, b, 0o644)
	}
}

func printTotals(vs []verdict) {
	var lost, res, elems, unconv, probes, reqs, refused, unknown, acked, ackedElems, passed int
	var lostIncr, ackedIncr uint64
	var members, hints, data []time.Duration
	net := true
	for _, v := range vs {
		r := &v.Report
		lost += r.Lost
		res += r.Resurrected
		lostIncr += r.LostIncrements
		ackedIncr += r.AckedIncrements
		elems += r.LostElements
		ackedElems += r.AckedElements
		acked += r.AckedWrites
		unconv += v.NotConverged
		probes += v.ProbeFailures
		reqs += v.Requests
		refused += v.Refused
		unknown += v.Unknown
		net = net && v.NetFaults
		if v.SetupErr == "" {
			members, hints, data = append(members, v.MembersAfter), append(hints, v.HintsAfter), append(data, v.ConvergedAfter)
		}
		if v.passed() {
			passed++
		}
	}
	if !net {
		fmt.Println("network faults: skipped (no network namespaces; nodes ran on 127.0.0.x)")
	}
	fmt.Printf("from healing until every node saw every node up: %s; until no hint was held: %s\n", spread(members), spread(hints))
	fmt.Printf("from the last client request until every key's replicas were identical: %s\n", spread(data))
	fmt.Printf("anomalies on a healthy cluster (conditional commands, contexts, cas): %d\n", probes)
	fmt.Printf("acknowledged writes lost: %d (of %d acknowledged)\n", lost, acked)
	fmt.Printf("deleted/overwritten values resurrected: %d\n", res)
	fmt.Printf("lost increments: %d (of %d acknowledged)\n", lostIncr, ackedIncr)
	fmt.Printf("lost set elements: %d (of %d acknowledged)\n", elems, ackedElems)
	fmt.Printf("keys whose replicas had not converged at the deadline: %d\n", unconv)
	fmt.Printf("availability during faults: %.2f%% of %d requests to nodes not cut off, killed or paused (refused %.2f%%, no answer %.2f%%)\n",
		100*avail(reqs, refused+unknown), reqs, 100*frac(refused, reqs), 100*frac(unknown, reqs))
	fmt.Printf("%d passed, %d failed\n", passed, len(vs)-passed)
}

func frac(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// spread is "p50 X, max Y" of ds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("p50 %.1fs, max %.1fs", s[len(s)/2].Seconds(), s[len(s)-1].Seconds())
}
