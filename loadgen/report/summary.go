package report

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dynamo-kv/dynamo/loadgen/sla"
)

// Loop modes, as Summary.Mode spells them.
const (
	OpenLoop   = "open-loop"
	ClosedLoop = "closed-loop"
)

// Summary is the result of one measured run, as written to JSON. Latencies
// are in microseconds; throughputs in operations per second.
type Summary struct {
	Tool        string    `json:"tool"`
	Label       string    `json:"label,omitempty"` // the target's name in compare mode
	Targets     []string  `json:"targets"`
	Mode        string    `json:"mode"` // OpenLoop or ClosedLoop
	ModeNote    string    `json:"mode_note"`
	Rate        float64   `json:"requested_rate,omitempty"` // open loop: ops/s asked for
	Workload    any       `json:"workload"`                 // the configuration that produced it
	Start       time.Time `json:"start"`
	WarmupSec   float64   `json:"warmup_seconds"`
	DurationSec float64   `json:"duration_seconds"` // the measured window
	Interrupted bool      `json:"interrupted,omitempty"`

	Ops        int64     `json:"ops"`        // user-level operations measured, failed ones included
	Throughput float64   `json:"throughput"` // successful user-level operations per second
	Requests   float64   `json:"requests_per_sec"`
	All        OpStats   `json:"all"` // the user-level operations together
	PerOp      []OpStats `json:"per_op"`

	Errors      map[string]int64 `json:"errors"` // failed operations by class, all kinds
	Siblings    *SiblingStats    `json:"siblings,omitempty"`
	ScheduleLag *LagStats        `json:"schedule_lag,omitempty"`
	Unsent      int64            `json:"unsent,omitempty"`
	Reconnects  int64            `json:"reconnects,omitempty"`
	CPU         CPUStats         `json:"loadgen_cpu"`
	Timeline    []Point          `json:"timeline"`
	SLA         []sla.Verdict    `json:"sla,omitempty"`
	SLAPass     *bool            `json:"sla_pass,omitempty"`
	Notes       []string         `json:"notes,omitempty"`
}

// OpStats describes one kind (or all user-level kinds).
type OpStats struct {
	Op         string           `json:"op"`
	Count      int64            `json:"count"` // successful replies
	Throughput float64          `json:"throughput"`
	Misses     int64            `json:"misses"`
	NotStored  int64            `json:"not_stored,omitempty"`
	Failed     int64            `json:"failed"`
	Errors     map[string]int64 `json:"errors,omitempty"`
	MeanUs     float64          `json:"mean_us"`
	P50Us      float64          `json:"p50_us"`
	P90Us      float64          `json:"p90_us"`
	P99Us      float64          `json:"p99_us"`
	P999Us     float64          `json:"p99_9_us"`
	P9999Us    float64          `json:"p99_99_us"`
	MaxUs      float64          `json:"max_us"`
}

// SiblingStats summarises the sibling counts getv replies carried.
type SiblingStats struct {
	Reads int64            `json:"reads"`
	Total int64            `json:"total"`
	Mean  float64          `json:"mean"`
	ByN   map[string]int64 `json:"by_count"` // "0".."7", "8+"
}

// LagStats is how late open-loop requests left compared with their
// schedule, for lateness the target caused (a full pipeline or socket).
type LagStats struct {
	P50Us  float64 `json:"p50_us"`
	P99Us  float64 `json:"p99_us"`
	P999Us float64 `json:"p99_9_us"`
	MaxUs  float64 `json:"max_us"`
}

// CPUStats is loadgen's own CPU use during the measured window.
type CPUStats struct {
	UserSec      float64 `json:"user_seconds"`
	SysSec       float64 `json:"system_seconds"`
	OpsPerCPUSec float64 `json:"ops_per_cpu_second"`
}

// Point is one second of the run's timeline.
type Point struct {
	T        float64 `json:"t"` // seconds since the start of the warm-up
	Ops      float64 `json:"ops_per_sec"`
	Failed   float64 `json:"failed_per_sec"`
	Measured bool    `json:"measured"` // false during warm-up and drain
	// MaxMs is the slowest measured request reported in the second, in
	// milliseconds (0 if none): where in the run the tail came from.
	MaxMs float64 `json:"max_ms"`
}

// Input is what Build needs besides the histograms and counters.
type Input struct {
	Label    string
	Targets  []string
	OpenLoop bool
	Rate     float64
	Workload any
	Start    time.Time
	Warmup   time.Duration
	Window   time.Duration // measured window
	CPUUser  time.Duration
	CPUSys   time.Duration
	Lag      *hdrhistogram.Histogram // open loop only
	Timeline []Point
	Rules    []sla.Rule
	Stopped  bool // interrupted before the planned end
}

// Build computes the summary of a run.
func Build(in Input, h *Histograms, c *Counters) *Summary {
	secs := in.Window.Seconds()
	s := &Summary{
		Tool: "loadgen", Label: in.Label, Targets: in.Targets, Workload: in.Workload, Start: in.Start,
		WarmupSec: in.Warmup.Seconds(), DurationSec: secs, Interrupted: in.Stopped,
		Timeline: in.Timeline, Unsent: c.Unsent, Reconnects: c.Reconnects,
		Errors: map[string]int64{},
	}
	s.Mode, s.ModeNote = ClosedLoop, "closed loop: each connection sends only after replies arrive, "+
		"so a stalled target also stalls the load and latency excludes the queueing an open stream would see"
	if in.OpenLoop {
		s.Mode, s.Rate = OpenLoop, in.Rate
		s.ModeNote = "open loop: requests follow a fixed schedule and latency is measured from each request's " +
			"scheduled start, so stalls are not hidden by coordinated omission"
	}
	var requests int64
	for k := range NumKinds {
		if c.OK[k]+c.Failed([]Kind{k}) == 0 {
			continue
		}
		st := opStats(k.String(), h[k], c, []Kind{k}, secs)
		s.PerOp = append(s.PerOp, st)
		if k != Cart {
			requests += st.Count + st.Failed
		}
		for e := range NumErrKinds {
			if n := c.Errors[k][e]; n > 0 && k != Cart { // a failed cart is already counted as its getv or putv
				s.Errors[e.String()] += n
			}
		}
	}
	s.All = opStats("all", h.Combined(UserKinds), c, UserKinds, secs)
	s.Ops = s.All.Count + s.All.Failed
	s.Throughput = s.All.Throughput
	if secs > 0 {
		s.Requests = float64(requests) / secs
	}
	s.Siblings = siblingStats(c)
	if in.Lag != nil && in.Lag.TotalCount() > 0 {
		s.ScheduleLag = &LagStats{P50Us: us(in.Lag.ValueAtQuantile(50)), P99Us: us(in.Lag.ValueAtQuantile(99)),
			P999Us: us(in.Lag.ValueAtQuantile(99.9)), MaxUs: us(in.Lag.Max())}
	}
	cpu := (in.CPUUser + in.CPUSys).Seconds()
	s.CPU = CPUStats{UserSec: in.CPUUser.Seconds(), SysSec: in.CPUSys.Seconds()}
	if cpu > 0 {
		s.CPU.OpsPerCPUSec = float64(s.Ops) / cpu
	}
	if len(in.Rules) > 0 {
		s.SLA = JudgeSLA(in.Rules, h, c)
		pass := true
		for _, v := range s.SLA {
			pass = pass && v.Pass
		}
		s.SLAPass = &pass
	}
	s.Notes = notes(s)
	return s
}

func opStats(name string, h *hdrhistogram.Histogram, c *Counters, kinds []Kind, secs float64) OpStats {
	st := OpStats{Op: name, Failed: c.Failed(kinds)}
	for _, k := range kinds {
		st.Count += c.OK[k]
		st.Misses += c.Misses[k]
		st.NotStored += c.NotStored[k]
		for e := range NumErrKinds {
			if n := c.Errors[k][e]; n > 0 {
				if st.Errors == nil {
					st.Errors = map[string]int64{}
				}
				st.Errors[e.String()] += n
			}
		}
	}
	if secs > 0 {
		st.Throughput = float64(st.Count) / secs
	}
	if h != nil && h.TotalCount() > 0 {
		st.MeanUs = h.Mean() / 1e3
		st.P50Us, st.P90Us = us(h.ValueAtQuantile(50)), us(h.ValueAtQuantile(90))
		st.P99Us, st.P999Us = us(h.ValueAtQuantile(99)), us(h.ValueAtQuantile(99.9))
		st.P9999Us, st.MaxUs = us(h.ValueAtQuantile(99.99)), us(h.Max())
	}
	return st
}

func siblingStats(c *Counters) *SiblingStats {
	var reads int64
	by := map[string]int64{}
	for n, count := range c.Siblings {
		reads += count
		if count == 0 {
			continue
		}
		key := itoa(n)
		if n == MaxSiblingBucket {
			key += "+"
		}
		by[key] = count
	}
	if reads == 0 {
		return nil
	}
	return &SiblingStats{Reads: reads, Total: c.SiblingsTotal, Mean: float64(c.SiblingsTotal) / float64(reads), ByN: by}
}

// JudgeSLA evaluates each rule over its operations: all user-level
// operations when the rule names none.
func JudgeSLA(rules []sla.Rule, h *Histograms, c *Counters) []sla.Verdict {
	out := make([]sla.Verdict, 0, len(rules))
	for _, r := range rules {
		kinds := UserKinds
		if len(r.Ops) > 0 {
			kinds = nil
			for _, name := range r.Ops {
				if k, ok := ParseKind(name); ok {
					kinds = append(kinds, k)
				}
			}
		}
		out = append(out, r.Judge(h.Combined(kinds), c.Failed(kinds)))
	}
	return out
}

func notes(s *Summary) []string {
	var out []string
	if s.Unsent > 0 {
		out = append(out, "the target fell behind the requested rate: "+itoa64(s.Unsent)+
			" scheduled operations were never sent, so the tail is understated")
	}
	if s.ScheduleLag != nil && s.ScheduleLag.P99Us > 1000 && s.Unsent == 0 {
		out = append(out, "requests left late by more than 1ms at p99 because the pipeline or socket was full")
	}
	if s.Interrupted {
		out = append(out, "interrupted before the planned end; the window is shorter than requested")
	}
	return out
}

func us(ns int64) float64 { return float64(ns) / 1e3 }
