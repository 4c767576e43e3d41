package report

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Layout of the picture: three panels stacked.
const (
	svgWidth    = 900
	panelHeight = 330
	marginLeft  = 80
	marginRight = 130 // room for the legend
	marginTop   = 40
	marginBot   = 50
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"}

// WriteSVG draws latency by percentile (the HdrHistogram plotter's "nines"
// x-axis: 0%, 90%, 99%, 99.9% ... evenly spaced) for each kind with samples,
// throughput over time with the warm-up shaded, and the slowest request of
// each second, which shows whether a tail is steady or a few stalls.
func WriteSVG(w io.Writer, s *Summary, h *Histograms) error {
	bw := bufio.NewWriter(w)
	c := &canvas{w: bw}
	c.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, 3*panelHeight)
	c.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	names, hists := HgrmSeries(h)
	c.latencyPanel(s, names, hists)
	c.throughputPanel(s.Timeline)
	c.slowestPanel(s.Timeline)
	c.printf("</svg>\n")
	if c.err != nil {
		return c.err
	}
	return bw.Flush()
}

type canvas struct {
	w   *bufio.Writer
	err error
}

func (c *canvas) printf(format string, args ...any) {
	if c.err == nil {
		_, c.err = fmt.Fprintf(c.w, format, args...)
	}
}

// plot maps data coordinates into one panel's pixel box.
type plot struct {
	top              float64
	xMax, yMax       float64
	left, right, bot float64
}

func newPlot(top, xMax, yMax float64) plot {
	return plot{top: top + marginTop, xMax: xMax, yMax: yMax,
		left: marginLeft, right: svgWidth - marginRight, bot: top + panelHeight - marginBot}
}

func (p plot) x(v float64) float64 { return p.left + (p.right-p.left)*v/p.xMax }
func (p plot) y(v float64) float64 { return p.bot - (p.bot-p.top)*v/p.yMax }

func (c *canvas) frame(p plot, title, xLabel, yLabel string) {
	c.printf(`<text x="%d" y="%.0f" font-size="14" font-weight="bold">%s</text>`+"\n", marginLeft, p.top-15, html.EscapeString(title))
	c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n",
		p.left, p.top, p.right-p.left, p.bot-p.top)
	c.printf(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", (p.left+p.right)/2, p.bot+38, xLabel)
	c.printf(`<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", (p.top+p.bot)/2, yLabel)
}

func (c *canvas) yTicks(p plot, format func(float64) string) {
	step := niceStep(p.yMax / 5)
	for v := 0.0; v <= p.yMax*1.0001; v += step {
		y := p.y(v)
		c.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", p.left, p.right, y, y)
		c.printf(`<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", p.left-6, y+4, format(v))
	}
}

func (c *canvas) polyline(points [][2]float64, color string) {
	c.printf(`<polyline fill="none" stroke="%s" stroke-width="1.6" points="`, color)
	for _, pt := range points {
		c.printf("%.1f,%.1f ", pt[0], pt[1])
	}
	c.printf("\"/>\n")
}

func (c *canvas) legend(p plot, i int, name, color string) {
	y := p.top + 10 + float64(i)*18
	c.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", p.right+10, p.right+30, y, y, color)
	c.printf(`<text x="%.1f" y="%.1f">%s</text>`+"\n", p.right+36, y+4, html.EscapeString(name))
}

func (c *canvas) latencyPanel(s *Summary, names []string, hists []*hdrhistogram.Histogram) {
	// The x-axis reaches the nines the sample count supports, 2 to 6.
	var count int64
	var maxNs int64
	for _, h := range hists {
		count = max(count, h.TotalCount())
		maxNs = max(maxNs, h.Max())
	}
	xMax := math.Min(6, math.Max(2, math.Ceil(math.Log10(float64(max(count, 1))))))
	yMax := niceCeil(float64(maxNs) / 1e3 * 1.05) // µs
	p := newPlot(0, xMax, yMax)
	c.frame(p, "Latency by percentile ("+s.Mode+")", "percentile", "latency")
	c.yTicks(p, func(v float64) string {
		if v == 0 {
			return "0"
		}
		return Micros(v)
	})
	for n := 0.0; n <= xMax; n++ {
		x := p.x(n)
		c.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, x, p.top, p.bot)
		c.printf(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, p.bot+16, ninesLabel(n))
	}
	for i, h := range hists {
		var pts [][2]float64
		for x := 0.0; x <= xMax+1e-9; x += 0.02 {
			q := 100 * (1 - math.Pow(10, -x))
			pts = append(pts, [2]float64{p.x(x), p.y(float64(h.ValueAtQuantile(q)) / 1e3)})
		}
		color := palette[i%len(palette)]
		c.polyline(pts, color)
		c.legend(p, i, names[i], color)
	}
}

func (c *canvas) throughputPanel(tl []Point) {
	xMax, yMax := 1.0, 1.0
	for _, pt := range tl {
		xMax, yMax = math.Max(xMax, pt.T), math.Max(yMax, pt.Ops)
	}
	p := newPlot(panelHeight, niceCeil(xMax), niceCeil(yMax*1.05))
	c.frame(p, "Throughput over time", "seconds since start", "ops/s")
	c.timeAxis(p, tl)
	// Each point is a rate over the interval ending at its T: draw steps.
	c.polyline(steps(p, tl, func(pt Point) float64 { return pt.Ops }), palette[0])
	c.legend(p, 0, "ops/s", palette[0])
	c.polyline(steps(p, tl, func(pt Point) float64 { return pt.Failed }), palette[1])
	c.legend(p, 1, "failed/s", palette[1])
}

// slowestPanel draws each second's slowest measured request.
func (c *canvas) slowestPanel(tl []Point) {
	xMax, yMax := 1.0, 0.0
	for _, pt := range tl {
		xMax, yMax = math.Max(xMax, pt.T), math.Max(yMax, pt.MaxMs)
	}
	p := newPlot(2*panelHeight, niceCeil(xMax), niceCeil(yMax*1.05))
	c.frame(p, "Slowest request per second", "seconds since start", "milliseconds")
	c.timeAxis(p, tl)
	c.polyline(steps(p, tl, func(pt Point) float64 { return pt.MaxMs }), palette[2])
	c.legend(p, 0, "slowest", palette[2])
}

// steps is the step line of f over the timeline: each point holds for the
// interval ending at its T.
func steps(p plot, tl []Point, f func(Point) float64) [][2]float64 {
	var pts [][2]float64
	prev := 0.0
	for _, pt := range tl {
		pts = append(pts, [2]float64{p.x(prev), p.y(f(pt))}, [2]float64{p.x(pt.T), p.y(f(pt))})
		prev = pt.T
	}
	return pts
}

// timeAxis shades the unmeasured stretches (warm-up, drain) and labels the
// x and y axes of a panel over the timeline.
func (c *canvas) timeAxis(p plot, tl []Point) {
	for i := 0; i < len(tl); i++ {
		if tl[i].Measured {
			continue
		}
		from := 0.0
		if i > 0 {
			from = tl[i-1].T
		}
		c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#eee"/>`+"\n",
			p.x(from), p.top, p.x(tl[i].T)-p.x(from), p.bot-p.top)
	}
	c.yTicks(p, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) })
	step := niceStep(p.xMax / 8)
	for v := 0.0; v <= p.xMax*1.0001; v += step {
		c.printf(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", p.x(v), p.bot+16,
			strconv.FormatFloat(v, 'f', -1, 64))
	}
}

func ninesLabel(n float64) string {
	switch n {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", int(n)-2) + "%"
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// niceCeil rounds v up to a multiple of its nice step.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	step := niceStep(v / 5)
	return math.Ceil(v/step) * step
}
