package metrics

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var printTable = flag.Bool("metrics.table", false, "print the table of metrics for docs/operations.md")

// Every metric is listed in docs/operations.md under its exported name.
func TestEveryMetricIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for stat, m := range known {
		name := m.metricName(stat)
		kind := "gauge"
		if m.kind == prometheus.CounterValue {
			kind = "counter"
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | `%s` | %s |", name, kind, stat, m.help))
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/operations.md does not list %s", name)
		}
	}
	for _, name := range []string{"dynamo_info", "dynamo_request_duration_seconds", "dynamo_bg_TASK_rate",
		"dynamo_bg_TASK_done_total", "dynamo_bg_TASK_left", "dynamo_bg_TASK_backoff_age_seconds"} {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/operations.md does not list %s", name)
		}
	}
	if *printTable {
		slices.Sort(rows)
		fmt.Println(strings.Join(rows, "\n"))
	}
}
