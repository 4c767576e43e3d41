package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// TestPrometheusScrapesACluster: a real Prometheus server (Debian's
// prometheus package; CI installs it) scrapes three dynamod processes
// under load through -metrics, with the example alert rules of
// docs/prometheus-alerts.yml loaded. promtool accepts what a node serves,
// every node is up, the cluster's figures agree, a p99.9 of writes can be
// computed from the latency histogram, and every alert rule evaluates.
func TestPrometheusScrapesACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	promBin, err1 := exec.LookPath("prometheus")
	promtool, err2 := exec.LookPath("promtool")
	if err1 != nil || err2 != nil {
		missingTool(t, "prometheus and promtool are not installed (Debian package prometheus)")
	}
	addrs := make([]string, 3)
	procs := startTestCluster(t, 3, func(i int) []string {
		addrs[i] = freePort(t)
		return []string{"-metrics", addrs[i]}
	})

	// Load: writes and reads through two nodes, and a few failing incrs.
	const keys = 300
	for i, p := range procs[:2] {
		c := memcache.New(p.addr)
		c.Timeout = 3 * time.Second
		for k := range keys {
			key := fmt.Sprintf("key%d-%d", i, k)
			if err := c.Set(&memcache.Item{Key: key, Value: []byte("value")}); err != nil {
				t.Fatalf("set through %s: %v", p.id, err)
			}
			if _, err := c.Get(key); err != nil {
				t.Fatalf("get through %s: %v", p.id, err)
			}
		}
		if _, err := c.Increment(fmt.Sprintf("key%d-0", i), 1); err == nil {
			t.Fatal("incr of a non-numeric value succeeded")
		}
	}

	body := httpGet(t, "http://"+addrs[0]+"/metrics")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	for _, want := range []string{
		fmt.Sprintf(`dynamo_request_duration_seconds_count{command="set",outcome="ok"} %d`, keys),
		`dynamo_request_duration_seconds_count{command="arith",outcome="client_error"} 1`,
		`dynamo_cluster_members 3`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("n1's /metrics lacks %q", want)
		}
	}

	// A real Prometheus server, scraping every second, with the rules.
	rules, err := filepath.Abs("../../docs/prometheus-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var targets []string
	for _, a := range addrs {
		targets = append(targets, strconv.Quote(a))
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: dynamo
    static_configs:
      - targets: [%s]
`, rules, strings.Join(targets, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	web := freePort(t)
	promLog := &syncWriter{w: &strings.Builder{}}
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web)
	prom.Stdout, prom.Stderr = promLog, promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Process.Kill(); prom.Wait() })
	query := func(q string) (float64, bool) {
		var r struct {
			Status string
			Data   struct {
				Result []struct{ Value [2]any }
			}
		}
		resp, err := http.Get("http://" + web + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&r) != nil || r.Status != "success" || len(r.Data.Result) != 1 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	waitFor := func(what, q string, ok func(float64) bool) float64 {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			if v, found := query(q); found && ok(v) {
				return v
			}
			if time.Now().After(deadline) {
				v, found := query(q)
				t.Fatalf("%s: %s = %v (found %v) after 60s; prometheus log:\n%s", what, q, v, found, promLog.String())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	waitFor("every node scraped", `sum(up{job="dynamo"})`, func(v float64) bool { return v == 3 })
	waitFor("every node sees three members", `count(dynamo_cluster_members == 3)`, func(v float64) bool { return v == 3 })
	waitFor("writes counted", `sum(dynamo_request_duration_seconds_count{command="set",outcome="ok"})`,
		func(v float64) bool { return v == 2*keys })
	// Keep writing so the rate over the last minute is not empty.
	c := memcache.New(procs[0].addr)
	for k := range 50 {
		if err := c.Set(&memcache.Item{Key: fmt.Sprint("more", k), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	p999 := waitFor("a write p99.9", `histogram_quantile(0.999, sum by (le) (rate(dynamo_request_duration_seconds_bucket{command="set"}[1m])))`,
		func(v float64) bool { return v > 0 && v < 10 })
	t.Logf("write p99.9 per Prometheus: %.3f ms", p999*1e3)

	// Every example alert rule evaluates without error.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name, Health, LastError string
					}
				}
			}
		}
		resp, err := http.Get("http://" + web + "/api/v1/rules")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
		}
		var rulesSeen, healthy int
		var bad []string
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				rulesSeen++
				switch rule.Health {
				case "ok":
					healthy++
				case "err":
					bad = append(bad, rule.Name+": "+rule.LastError)
				}
			}
		}
		if len(bad) > 0 {
			t.Fatalf("alert rules fail to evaluate: %v", bad)
		}
		if err == nil && rulesSeen == 9 && healthy == rulesSeen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert rules: %d loaded, %d evaluated ok (%v); prometheus log:\n%s", rulesSeen, healthy, err, promLog.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(b)
}

// missingTool skips t, or fails it when CI asks for every external tool
// (DYNAMO_REQUIRE_EXTERNAL, as protocol/compat's tests do).
func missingTool(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("DYNAMO_REQUIRE_EXTERNAL") != "" {
		t.Fatalf("%s (DYNAMO_REQUIRE_EXTERNAL is set, so this is a failure)", msg)
	}
	t.Skip(msg)
}
