package metrics

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// Source is what the collector reads on every scrape: the lines of
// "stats", in order (protocol/server's Server.Stats).
type Source func() []kv.Stat

// Handler serves /metrics for src and lat (nil: no latency histograms),
// with the Go runtime's and the process's own collectors beside them.
func Handler(src Source, lat *Latency) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if lat != nil {
		reg.MustRegister(lat)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Collector turns the stats lines into metrics at each scrape. It is an
// unchecked collector (Describe sends nothing): which lines exist depends
// on the node's mode (a cluster node has cluster_* and bg_* lines).
type Collector struct {
	src   Source
	descs map[string]*prometheus.Desc // by stat name
	info  *prometheus.Desc
}

// NewCollector returns a collector over src.
func NewCollector(src Source) *Collector {
	c := &Collector{src: src, descs: map[string]*prometheus.Desc{}}
	for name, m := range known {
		c.descs[name] = prometheus.NewDesc(m.metricName(name), m.help, nil, nil)
	}
	c.info = prometheus.NewDesc("dynamo_info", "The node's identity and settings as labels; the value is always 1.",
		infoLabels, nil)
	return c
}

// Describe implements prometheus.Collector; sending nothing makes it
// unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	info := make([]string, len(infoLabels))
	for _, st := range c.src() {
		if i := infoIndex(st.Name); i >= 0 {
			info[i] = st.Value
			continue
		}
		m, ok := known[st.Name]
		if !ok {
			m, ok = pattern(st.Name)
			if !ok {
				continue // a line this version does not export (pid, time, ...)
			}
			c.descs[st.Name] = nil // not cached: patterns cover few lines
		}
		v, ok := m.value(st.Value)
		if !ok {
			continue
		}
		d := c.descs[st.Name]
		if d == nil {
			d = prometheus.NewDesc(m.metricName(st.Name), m.help, nil, nil)
		}
		ch <- prometheus.MustNewConstMetric(d, m.kind, v)
	}
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, info...)
}

// metric says how one stats line is exported.
type metric struct {
	kind prometheus.ValueType
	help string
	// scale multiplies the value (1e-6 for microseconds); 0 means 1.
	scale float64
	// name replaces the stat's name (after the prefix); "" keeps it.
	name string
	// boolNone: the value is text, "none" exports 0 and anything else 1.
	boolNone bool
}

func (m metric) metricName(stat string) string {
	n := stat
	if m.name != "" {
		n = m.name
	}
	if m.kind == prometheus.CounterValue {
		n += "_total"
	}
	return "dynamo_" + n
}

func (m metric) value(s string) (float64, bool) {
	if m.boolNone {
		if s == "none" {
			return 0, true
		}
		return 1, true
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, false
	}
	if m.scale != 0 {
		v *= m.scale
	}
	return v, true
}

// skipped are the stats lines deliberately not exported: the process
// collector has the process's own figures, and memcached's lines that are
// always 0 here say nothing.
var skipped = map[string]bool{
	"pid": true, "time": true, "pointer_size": true, "rusage_user": true, "rusage_system": true,
	"get_expired": true, "get_flushed": true, "store_no_memory": true,
}

// Covers reports whether the collector exports the stats line stat, or
// leaves it out on purpose. A test holds every line a node reports to it,
// so that a new line cannot go unexported by oversight.
func Covers(stat string) bool {
	if skipped[stat] || infoIndex(stat) >= 0 {
		return true
	}
	if _, ok := known[stat]; ok {
		return true
	}
	_, ok := pattern(stat)
	return ok
}

// infoLabels are the text lines exported as labels of dynamo_info.
var infoLabels = []string{"version", "node_id", "durability", "incarnation"}

func infoIndex(stat string) int {
	switch stat {
	case "version":
		return 0
	case "cluster_node_id":
		return 1
	case "engine_durability":
		return 2
	case "engine_incarnation":
		return 3
	}
	return -1
}

// pattern covers the lines a family of tasks emits: the background
// controller's per-task lines (bg_TASK_rate and so on).
func pattern(stat string) (metric, bool) {
	if !strings.HasPrefix(stat, "bg_") {
		return metric{}, false
	}
	if q, ok := strings.CutPrefix(stat, "bg_queue_"); ok && strings.HasSuffix(q, "_us") {
		if name, ok := strings.CutSuffix(q, "_target_us"); ok {
			return metric{kind: prometheus.GaugeValue, scale: 1e-6, name: "bg_queue_" + name + "_target_seconds",
				help: "Queueing signal " + name + " over which the admission controller slows background work."}, true
		}
		name := strings.TrimSuffix(q, "_us")
		return metric{kind: prometheus.GaugeValue, scale: 1e-6, name: "bg_queue_" + name + "_seconds",
			help: "Queueing signal " + name + " over the controller's last period: how long this process waited for a CPU (0: too little to judge)."}, true
	}
	task, field, ok := cutLast(strings.TrimPrefix(stat, "bg_"))
	if !ok {
		return metric{}, false
	}
	switch field {
	case "rate":
		return metric{kind: prometheus.GaugeValue, name: "bg_" + task + "_rate", help: "Work units per second (records; bytes for compact, exchanges for aae_urgent) the admission controller grants background task " + task + " now."}, true
	case "done":
		return metric{kind: prometheus.CounterValue, name: "bg_" + task + "_done", help: "Work units (records; bytes for compact, exchanges for aae_urgent) background task " + task + " has processed."}, true
	case "left":
		return metric{kind: prometheus.GaugeValue, name: "bg_" + task + "_left", help: "Records background task " + task + " knows are left to do (-1: unknown)."}, true
	}
	if strings.HasSuffix(stat, "_backoff_age_ms") {
		task = strings.TrimSuffix(strings.TrimPrefix(stat, "bg_"), "_backoff_age_ms")
		return metric{kind: prometheus.GaugeValue, scale: 1e-3, name: "bg_" + task + "_backoff_age_seconds",
			help: "Seconds since the admission controller last slowed background task " + task + " (absent: never)."}, true
	}
	return metric{}, false
}

func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '_')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}
