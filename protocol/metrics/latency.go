package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-kv/dynamo/protocol/memcache"
)

// Latency records how long each data command took to execute, by class
// and outcome, in histograms whose buckets (25 µs to 10 s, each 1.5× the
// one before) resolve a 99.9th percentile to within a bucket. It is the
// server's memcache.LatencyRecorder; Observe costs an array index and
// the histogram's atomic adds, and allocates nothing.
type Latency struct {
	vec *prometheus.HistogramVec
	obs [memcache.NumClasses][memcache.NumOutcomes]prometheus.Observer
}

// NewLatency returns a recorder with every class's series present, at
// zero, before the first request.
func NewLatency() *Latency {
	l := &Latency{vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dynamo_request_duration_seconds",
		Help: "Seconds a data command took from parsed to answered on this node (a cluster node's includes its replicas' round trips), by command class and outcome (client_error: CLIENT_ERROR or ERROR; server_error: SERVER_ERROR).",
		// 33 buckets from 25 µs to 10 s, a factor 1.5 apart.
		Buckets: prometheus.ExponentialBucketsRange(25e-6, 10, 33),
	}, []string{"command", "outcome"})}
	for c := memcache.ClassNone + 1; c < memcache.NumClasses; c++ {
		for o := range memcache.NumOutcomes {
			l.obs[c][o] = l.vec.WithLabelValues(c.String(), o.String())
		}
	}
	return l
}

// Observe implements memcache.LatencyRecorder.
func (l *Latency) Observe(c memcache.Class, o memcache.Outcome, d time.Duration) {
	if c == memcache.ClassNone || c >= memcache.NumClasses || o >= memcache.NumOutcomes {
		return
	}
	l.obs[c][o].Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (l *Latency) Describe(ch chan<- *prometheus.Desc) { l.vec.Describe(ch) }

// Collect implements prometheus.Collector.
func (l *Latency) Collect(ch chan<- prometheus.Metric) { l.vec.Collect(ch) }
