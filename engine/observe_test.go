package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// The observer sees every change, in order, with what it changed: a put
// with the dot it minted, a hinted merge's hint before the merge, a drop,
// and a hint's removal. Unchanged merges are not changes.
func TestObserverSeesEveryChange(t *testing.T) {
	var got []string
	f := newFixture(t, func(o *Options) {
		o.Observer = func(ev Event) {
			s := fmt.Sprintf("%s %s", ev.What, ev.Key)
			if ev.What == EventPut {
				s += fmt.Sprintf(" dot=%d", ev.Dot.Counter)
			}
			if ev.Owner != "" {
				s += " owner=" + ev.Owner
			}
			if (ev.Record == nil) != (ev.What != EventPut && ev.What != EventMerge) {
				t.Errorf("%s: record %v", s, ev.Record != nil)
			}
			got = append(got, s)
		}
	})
	f.mustPut("a", set("1"))
	f.mustPut("a", set("2"))
	rec, _, _ := f.e.Record([]byte("a"), nil)
	other := newFixture(t)
	if _, err := other.e.MergeRecordHinted([]byte("b"), rec, kv.Buffered); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.MergeRecordHinted([]byte("b"), rec, kv.Buffered, "n9"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.MergeRecord([]byte("a"), rec, kv.Buffered); err != nil { // unchanged
		t.Fatal(err)
	}
	if err := f.e.DeleteHint("n9", []byte("b")); err != nil {
		t.Fatal(err)
	}
	forget(t, f, "a")
	want := []string{"put a dot=1", "put a dot=2", "hint+ b owner=n9", "merge b", "hint- b owner=n9", "drop a"}
	if !slices.Equal(got, want) {
		t.Fatalf("observed %q\nwant     %q", got, want)
	}
}
