package report

import (
	"io"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// WriteHgrm writes h (nanoseconds) in the HdrHistogram percentile
// distribution format, values in microseconds, 5 ticks per half distance:
// the text HdrHistogram's plotter and other tools read.
func WriteHgrm(w io.Writer, h *hdrhistogram.Histogram) error {
	_, err := h.PercentilesPrint(w, 5, 1000)
	return err
}

// HgrmSeries names the histograms worth a .hgrm file: each kind with
// samples, plus "all" user-level operations when more than one kind ran.
func HgrmSeries(h *Histograms) (names []string, hists []*hdrhistogram.Histogram) {
	kinds := 0
	for k := range NumKinds {
		if h.Count(k) > 0 {
			names, hists = append(names, k.String()), append(hists, h[k])
			kinds++
		}
	}
	if all := h.Combined(UserKinds); all != nil && kinds > 1 {
		names, hists = append(names, "all"), append(hists, all)
	}
	return names, hists
}
