package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/kv"
)

// readRecords are records of one key as replicas may hold them: old, new
// (old overwritten through the same node), other (written concurrently
// with new through another node), and bad (not a record).
func readRecords(t *testing.T) map[string][]byte {
	t.Helper()
	open := func() *engine.Engine {
		e, err := engine.Open(engine.Options{Dir: "db", FS: vfs.NewMem(), ReapInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	key := []byte("k")
	recs := map[string][]byte{}
	a, b := open(), open()
	put := func(e *engine.Engine, name string, req kv.PutRequest) kv.PutResult {
		res, err := e.Put(key, &req)
		if err != nil {
			t.Fatal(err)
		}
		rec, _, err := e.Record(key, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs[name] = rec
		return res
	}
	old := put(a, "old", kv.PutRequest{Value: []byte("old")})
	put(a, "new", kv.PutRequest{Value: []byte("new"), Context: old.Context})
	if _, _, err := b.Merge(key, recs["old"], kv.Buffered); err != nil {
		t.Fatal(err)
	}
	put(b, "other", kv.PutRequest{Value: []byte("other"), Context: old.Context})
	recs["bad"] = []byte{0xff, 0x01}
	return recs
}

// describe names a record by its visible values, sorted.
func describe(t *testing.T, rec []byte) string {
	if rec == nil {
		return "nothing"
	}
	var o kv.Object
	e, err := engine.Open(engine.Options{Dir: "db", FS: vfs.NewMem(), ReapInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.FillObject([]byte("k"), rec, &o); err != nil {
		return "unreadable"
	}
	var vs []string
	for _, s := range o.Siblings {
		vs = append(vs, string(s.Value))
	}
	slices.Sort(vs)
	return strings.Join(vs, "+")
}

// TestReadRound replays testdata/read_round: "round r=R targets=...
// spares=..." starts a read; "reply ID REC" answers for one replica with
// a record (old, new, other, bad), "missing" (no record) or "error" (the
// replica failed); "repair" shows what read repair would do with every
// reply so far.
func TestReadRound(t *testing.T) {
	recs := readRecords(t)
	datadriven.Walk(t, "testdata/read_round", func(t *testing.T, path string) {
		var rr *readRound
		asked := map[string]target{}
		trace := func(acts []readAction) string {
			var b strings.Builder
			for _, a := range acts {
				if a.fetch != nil {
					asked[a.fetch.id] = *a.fetch
				}
				b.WriteString(a.String())
				if a.answer && a.outcome.String() == "won" {
					fmt.Fprintf(&b, ": %s", describe(t, rr.merged))
				}
				if a.answer {
					// What the driver's drain or repair goes on waiting for.
					fmt.Fprintf(&b, " (%d in flight)", rr.inFlight())
				}
				b.WriteString("\n")
			}
			if b.Len() == 0 {
				return "nothing\n"
			}
			return b.String()
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "round":
				var r, hedges int
				var targets, spares string
				d.ScanArgs(t, "r", &r)
				d.ScanArgs(t, "targets", &targets)
				d.MaybeScanArgs(t, "spares", &spares)
				d.MaybeScanArgs(t, "hedges", &hedges)
				clear(asked)
				var acts []readAction
				rr, acts = newReadRound(r, parseTargets(targets), parseTargets(spares), hedges)
				return trace(acts)
			case "hedge":
				return trace(rr.hedge())
			case "reply":
				id, what := d.CmdArgs[0].Key, d.CmdArgs[1].Key
				tg, ok := asked[id]
				if !ok {
					d.Fatalf(t, "%s was not asked", id)
				}
				delete(asked, id)
				rep := reply{t: tg}
				switch what {
				case "missing":
				case "error":
					rep.err = errors.New("timed out")
				default:
					rep.rec, rep.ok = recs[what], true
					if rep.rec == nil {
						d.Fatalf(t, "no record %q", what)
					}
				}
				return trace(rr.reply(rep))
			case "repair":
				merged, stale, err := repairPlan(rr.got)
				if err != nil {
					return fmt.Sprintf("cannot: %v\n", err)
				}
				if merged == nil {
					return "nothing to repair\n"
				}
				var ids []string
				for _, tg := range stale {
					ids = append(ids, tg.id)
				}
				return fmt.Sprintf("send %s to %s\n", describe(t, merged), strings.Join(ids, ", "))
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}
