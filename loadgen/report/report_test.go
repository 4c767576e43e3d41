package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/sla"
)

// Latencies recorded by four workers and merged must be indistinguishable
// from the same latencies recorded into one histogram.
func TestMergeAcrossWorkersMatchesSingle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var single Histograms
	workers := make([]Histograms, 4)
	for i := range 200_000 {
		// Log-normal-ish latencies from 5µs up to seconds, plus out-of-range values.
		ns := int64(5000 * (1 + r.ExpFloat64()*r.ExpFloat64()*50))
		switch i {
		case 7:
			ns = -5 // a clock step
		case 11:
			ns = 2 * HighestNanos // beyond the range: clamped, still counted
		}
		k := Kind(r.IntN(2)) // get or set
		single.Record(k, ns)
		workers[r.IntN(len(workers))].Record(k, ns)
	}
	var merged Histograms
	for i := range workers {
		merged.Merge(&workers[i])
	}
	for _, k := range []Kind{Get, Set} {
		s, m := single[k], merged[k]
		if s.TotalCount() != m.TotalCount() || s.Max() != m.Max() || s.Min() != m.Min() || s.Mean() != m.Mean() {
			t.Fatalf("%s: count %d/%d max %d/%d", k, s.TotalCount(), m.TotalCount(), s.Max(), m.Max())
		}
		for _, q := range []float64{0, 10, 50, 90, 99, 99.9, 99.99, 99.999, 100} {
			if s.ValueAtQuantile(q) != m.ValueAtQuantile(q) {
				t.Errorf("%s p%v: single %d merged %d", k, q, s.ValueAtQuantile(q), m.ValueAtQuantile(q))
			}
		}
	}
	if merged.Count(Get)+merged.Count(Set) != 200_000 {
		t.Errorf("merged %d samples", merged.Count(Get)+merged.Count(Set))
	}
	if got := max(merged[Get].Max(), merged[Set].Max()); got < HighestNanos*999/1000 {
		t.Errorf("out-of-range sample not clamped to the top: max %d", got)
	}
	all := merged.Combined(UserKinds)
	if all.TotalCount() != 200_000 {
		t.Errorf("combined %d", all.TotalCount())
	}
}

func sampleSummary(t *testing.T) (*Summary, *Histograms) {
	var h Histograms
	var c Counters
	for i := range 1000 {
		h.Record(Get, int64(i+1)*1000)
		h.Record(Getv, 50_000)
		h.Record(Putv, 70_000)
		h.Record(Cart, 130_000)
	}
	c.OK[Get], c.OK[Getv], c.OK[Putv], c.OK[Cart] = 1000, 1000, 1000, 1000
	c.Misses[Get] = 10
	c.Errors[Getv][ErrTimeout] = 3
	c.Errors[Cart][ErrTimeout] = 3
	for range 990 {
		c.AddSiblings(1)
	}
	for range 10 {
		c.AddSiblings(3)
	}
	rules, err := sla.Parse("p99<2ms,cart:p50<100us", KindNames())
	if err != nil {
		t.Fatal(err)
	}
	s := Build(Input{Targets: []string{"127.0.0.1:1"}, OpenLoop: true, Rate: 500, Window: 2 * time.Second,
		CPUUser: time.Second, Timeline: []Point{{T: 1, Ops: 900, Measured: true}, {T: 2, Ops: 1100, Measured: true}},
		Rules: rules}, &h, &c)
	return s, &h
}

func TestBuild(t *testing.T) {
	s, _ := sampleSummary(t)
	if s.Mode != OpenLoop || s.Ops != 2003 { // 1000 gets + 1000 carts + 3 failed carts
		t.Fatalf("mode %s ops %d", s.Mode, s.Ops)
	}
	if s.Throughput != 1000 { // 2000 successful user-level ops over 2s
		t.Errorf("throughput %v", s.Throughput)
	}
	if s.Requests != (1000+1000+1000+3)/2.0 { // get, getv, putv requests; carts are not requests
		t.Errorf("requests/s %v", s.Requests)
	}
	if s.Errors["timeout"] != 3 { // counted once, not again for the cart
		t.Errorf("errors %v", s.Errors)
	}
	if s.Siblings.Reads != 1000 || s.Siblings.Total != 1020 || s.Siblings.ByN["3"] != 10 {
		t.Errorf("siblings %+v", s.Siblings)
	}
	if s.All.P50Us < 129.9 || s.All.P50Us > 130.2 || s.CPU.OpsPerCPUSec != 2003 {
		t.Errorf("all p50 %v, ops per cpu-second %v", s.All.P50Us, s.CPU.OpsPerCPUSec)
	}
	if s.SLAPass == nil || *s.SLAPass || !s.SLA[0].Pass || s.SLA[1].Pass {
		t.Errorf("sla %+v", s.SLA)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestTable(t *testing.T) {
	s, _ := sampleSummary(t)
	var b bytes.Buffer
	if err := WriteTable(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"open-loop", "p99.9", "cart", "siblings: 1000 getv replies", "timeout=3", "MISS", "PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	s.Mode = ClosedLoop
	b.Reset()
	WriteTable(&b, s)
	if !strings.Contains(b.String(), "closed-loop") {
		t.Errorf("closed-loop run not labelled:\n%s", b.String())
	}
}

func TestHgrm(t *testing.T) {
	_, h := sampleSummary(t)
	names, hists := HgrmSeries(h)
	if strings.Join(names, ",") != "get,cart,getv,putv,all" {
		t.Fatalf("series %v", names)
	}
	var b bytes.Buffer
	if err := WriteHgrm(&b, hists[0]); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	// Values are in microseconds: the get median is 500µs.
	if !strings.HasPrefix(out, "       Value     Percentile TotalCount 1/(1-Percentile)") &&
		!strings.Contains(out, "Value\tPercentile\tTotalCount\t1/(1-Percentile)") {
		t.Errorf("no hgrm header:\n%.200s", out)
	}
	if !strings.Contains(out, "500.") || !strings.Contains(out, "Total count    =         1000") {
		t.Errorf("unexpected hgrm:\n%s", out)
	}
}

func TestSVGIsWellFormed(t *testing.T) {
	s, h := sampleSummary(t)
	var b bytes.Buffer
	if err := WriteSVG(&b, s, h); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	lines, texts := 0, []string{}
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local == "polyline" {
				lines++
			}
		case xml.CharData:
			texts = append(texts, string(el))
		}
	}
	if lines != len(HgrmSeriesNames(h))+3 { // one per series, plus ops/s, failed/s and slowest
		t.Errorf("%d polylines", lines)
	}
	joined := strings.Join(texts, "|")
	for _, want := range []string{"99.9%", "99%", "90%", "Throughput over time", "Slowest request per second", "open-loop"} {
		if !strings.Contains(joined, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
}

func HgrmSeriesNames(h *Histograms) []string { n, _ := HgrmSeries(h); return n }

func TestCompareMedians(t *testing.T) {
	mk := func(tp, p99 float64) *Summary { return &Summary{Throughput: tp, All: OpStats{P99Us: p99}} }
	c := Compare([]string{"a", "b"}, []string{"x:1", "y:1"}, [][]*Summary{
		{mk(100, 5), mk(300, 1), mk(200, 9)},
		{mk(50, 2), mk(100, 4), mk(1000, 3)},
	}, "abba")
	if c.Targets[0].Throughput != 200 || c.Targets[1].Throughput != 100 || c.Targets[0].P99Us != 5 {
		t.Errorf("medians %+v", c.Targets)
	}
	if c.Ratio.Throughput != 2 || c.Ratio.P99 != 5.0/3 {
		t.Errorf("ratio %+v", c.Ratio)
	}
	var b bytes.Buffer
	WriteCompareTable(&b, c)
	if !strings.Contains(b.String(), "ratio a/b: throughput 2.000") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestMicros(t *testing.T) {
	for in, want := range map[float64]string{12.34: "12.3us", 1500: "1.50ms", 2.5e6: "2.5s", 0: "-"} {
		if got := Micros(in); got != want {
			t.Errorf("Micros(%v) = %q, want %q", in, got, want)
		}
	}
}
