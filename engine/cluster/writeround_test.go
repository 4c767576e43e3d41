package cluster

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestWriteRound replays the golden traces in testdata/write_round: each
// "round" starts a write round (need=W, others= and spares= as node IDs,
// a fallback written n4>n2 for n4 standing in for n2), and each "ack ID"
// (optionally "diverged") or "fail ID" feeds it one replica's answer.
// The output is the actions the round asks for, then "done" once every
// send has been answered.
func TestWriteRound(t *testing.T) {
	datadriven.Walk(t, "testdata/write_round", func(t *testing.T, path string) {
		var w *writeRound
		inFlight := map[string]target{}
		trace := func(acts []writeAction) string {
			var b strings.Builder
			for _, a := range acts {
				if a.kind == actSend {
					inFlight[a.to.id] = a.to
				}
				fmt.Fprintln(&b, a)
			}
			if w.done() {
				b.WriteString("done\n")
			}
			if b.Len() == 0 {
				return "nothing\n"
			}
			return b.String()
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "round":
				var need int
				var others, spares string
				d.ScanArgs(t, "need", &need)
				d.MaybeScanArgs(t, "others", &others)
				d.MaybeScanArgs(t, "spares", &spares)
				clear(inFlight)
				var acts []writeAction
				w, acts = newWriteRound(need, parseTargets(others), parseTargets(spares))
				return trace(acts)
			case "ack", "fail":
				id := d.CmdArgs[0].Key
				tg, ok := inFlight[id]
				if !ok {
					d.Fatalf(t, "%s was not sent the record", id)
				}
				delete(inFlight, id)
				if d.Cmd == "fail" {
					return trace(w.fail(tg))
				}
				return trace(w.ack(d.HasArg("diverged")))
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

func parseTargets(s string) []target {
	var ts []target
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		id, hintFor, _ := strings.Cut(f, ">")
		ts = append(ts, target{id: id, hintFor: hintFor})
	}
	return ts
}
