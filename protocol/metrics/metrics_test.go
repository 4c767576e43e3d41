package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
)

var sample = []kv.Stat{
	{Name: "pid", Value: "42"},
	{Name: "uptime", Value: "7"},
	{Name: "version", Value: "1.6.18-dynamo"},
	{Name: "cmd_get", Value: "12"},
	{Name: "bytes_read", Value: "300"},
	{Name: "store_stall_usec", Value: "1500000"},
	{Name: "store_failure", Value: "none"},
	{Name: "engine_durability", Value: "sync"},
	{Name: "cluster_node_id", Value: "n1"},
	{Name: "bg_target_p99_us", Value: "2000"},
	{Name: "bg_handoff_rate", Value: "400"},
	{Name: "bg_handoff_done", Value: "9"},
	{Name: "bg_handoff_left", Value: "-1"},
	{Name: "bg_handoff_backoff_age_ms", Value: "never"},
	{Name: "bg_hints_backoff_age_ms", Value: "2500"},
	{Name: "some_future_line", Value: "1"},
}

// The lines become the documented metrics, their values converted
// (microseconds and milliseconds to seconds, "none" to 0), the text lines
// labels of dynamo_info; "never", skipped and unknown lines are left out.
func TestCollectorTranslatesStats(t *testing.T) {
	c := NewCollector(func() []kv.Stat { return sample })
	want := `
# HELP dynamo_bg_handoff_done_total Work units (records; bytes for compact, exchanges for aae_urgent) background task handoff has processed.
# TYPE dynamo_bg_handoff_done_total counter
dynamo_bg_handoff_done_total 9
# HELP dynamo_bg_handoff_left Records background task handoff knows are left to do (-1: unknown).
# TYPE dynamo_bg_handoff_left gauge
dynamo_bg_handoff_left -1
# HELP dynamo_bg_handoff_rate Work units per second (records; bytes for compact, exchanges for aae_urgent) the admission controller grants background task handoff now.
# TYPE dynamo_bg_handoff_rate gauge
dynamo_bg_handoff_rate 400
# HELP dynamo_bg_hints_backoff_age_seconds Seconds since the admission controller last slowed background task hints (absent: never).
# TYPE dynamo_bg_hints_backoff_age_seconds gauge
dynamo_bg_hints_backoff_age_seconds 2.5
# HELP dynamo_bg_target_p99_seconds Foreground p99 latency the admission controller holds background work under.
# TYPE dynamo_bg_target_p99_seconds gauge
dynamo_bg_target_p99_seconds 0.002
# HELP dynamo_cmd_get_total Keys requested by get, gets, gat and gats.
# TYPE dynamo_cmd_get_total counter
dynamo_cmd_get_total 12
# HELP dynamo_info The node's identity and settings as labels; the value is always 1.
# TYPE dynamo_info gauge
dynamo_info{durability="sync",incarnation="",node_id="n1",version="1.6.18-dynamo"} 1
# HELP dynamo_read_bytes_total Bytes read from clients.
# TYPE dynamo_read_bytes_total counter
dynamo_read_bytes_total 300
# HELP dynamo_store_failed 1 once the store failed (writes refused until restart), else 0.
# TYPE dynamo_store_failed gauge
dynamo_store_failed 0
# HELP dynamo_store_stall_seconds_total Seconds writers waited for the buffer to drain.
# TYPE dynamo_store_stall_seconds_total counter
dynamo_store_stall_seconds_total 1.5
# HELP dynamo_uptime_seconds Seconds since the node started.
# TYPE dynamo_uptime_seconds gauge
dynamo_uptime_seconds 7
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	for _, st := range sample {
		if got, want := Covers(st.Name), st.Name != "some_future_line"; got != want {
			t.Errorf("Covers(%q) = %v, want %v", st.Name, got, want)
		}
	}
}

// Every metric the package can emit passes Prometheus's own linter (the
// one promtool check metrics runs): names, suffixes, units, help.
func TestEveryMetricLints(t *testing.T) {
	var all []kv.Stat
	for name, m := range known {
		v := "1"
		if m.boolNone {
			v = "none"
		}
		all = append(all, kv.Stat{Name: name, Value: v})
	}
	for _, task := range []string{"hints", "handoff", "aae_urgent", "reap"} {
		for _, f := range []string{"rate", "done", "left", "backoff_age_ms"} {
			all = append(all, kv.Stat{Name: "bg_" + task + "_" + f, Value: "1"})
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(func() []kv.Stat { return all }), NewLatency())
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Each known line, 16 task lines, dynamo_info, and the latency
	// histogram's 8 classes × 3 outcomes.
	if want := len(known) + 16 + 1 + 24; n != want {
		t.Fatalf("%d metrics gathered, want %d", n, want)
	}
}

// The latency histogram files a command under its class and outcome, and
// its buckets resolve a p99.9 of a few hundred microseconds to within a
// factor 1.5.
func TestLatencyByClassAndOutcome(t *testing.T) {
	lat := NewLatency()
	for range 999 {
		lat.Observe(memcache.ClassGet, memcache.OutcomeOK, 200*time.Microsecond)
	}
	lat.Observe(memcache.ClassGet, memcache.OutcomeOK, 900*time.Microsecond)
	lat.Observe(memcache.ClassSet, memcache.OutcomeServerError, time.Millisecond)
	lat.Observe(memcache.ClassNone, memcache.OutcomeOK, time.Second) // not a data command
	srv := httptest.NewServer(Handler(func() []kv.Stat { return nil }, lat))
	defer srv.Close()
	body := scrape(t, srv.URL)
	for _, line := range []string{
		`dynamo_request_duration_seconds_count{command="get",outcome="ok"} 1000`,
		`dynamo_request_duration_seconds_count{command="set",outcome="server_error"} 1`,
		`dynamo_request_duration_seconds_count{command="set",outcome="ok"} 0`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
	if strings.Contains(body, `command="none"`) {
		t.Error("a command outside the data classes was timed")
	}
	bounds := prometheus.ExponentialBucketsRange(25e-6, 10, 33)
	for i := 1; i < len(bounds); i++ {
		if r := bounds[i] / bounds[i-1]; r > 1.51 {
			t.Fatalf("buckets %g and %g are a factor %.2f apart", bounds[i-1], bounds[i], r)
		}
	}
	if problems, err := promlint.New(strings.NewReader(body)).Lint(); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(b)
}
