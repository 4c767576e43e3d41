package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
)

func TestAroundBehind(t *testing.T) {
	ts := func(ids string) []target {
		var out []target
		for _, id := range strings.Fields(ids) {
			out = append(out, target{id: id})
		}
		return out
	}
	for _, tc := range []struct {
		r                       int
		targets, spares, behind string
		want, wantSpares        string
		left                    int
	}{
		{r: 2, targets: "a b c", spares: "d", behind: "", want: "a b c", wantSpares: "d"},
		{r: 2, targets: "a b c", spares: "d", behind: "b", want: "a c", wantSpares: "b d", left: 1},
		// Two behind, one caught up: the earlier behind one stays to make R.
		{r: 2, targets: "a b c", spares: "d", behind: "a b", want: "a c", wantSpares: "b d", left: 1},
		{r: 1, targets: "a b c", spares: "", behind: "a b", want: "c", wantSpares: "a b", left: 2},
		// R = N, or every target behind at R = len: nothing left out.
		{r: 3, targets: "a b c", spares: "d", behind: "b", want: "a b c", wantSpares: "d"},
		{r: 2, targets: "a b", spares: "d", behind: "a b", want: "a b", wantSpares: "d"},
		// Fewer targets than R (owners down, no fallback): spares make it up.
		{r: 3, targets: "a b", spares: "", behind: "a", want: "a b", wantSpares: ""},
		{r: 2, targets: "a b c", spares: "", behind: "a b c", want: "a b", wantSpares: "c", left: 1},
	} {
		behind := func(tg target) bool { return strings.Contains(" "+tc.behind+" ", " "+tg.id+" ") }
		got, spares, left := aroundBehind(tc.r, ts(tc.targets), ts(tc.spares), behind)
		ids := func(x []target) string {
			var s []string
			for _, tg := range x {
				s = append(s, tg.id)
			}
			return strings.Join(s, " ")
		}
		if ids(got) != tc.want || ids(spares) != tc.wantSpares || left != tc.left {
			t.Errorf("R=%d targets %q behind %q: got %q spares %q left %d, want %q spares %q left %d",
				tc.r, tc.targets, tc.behind, ids(got), ids(spares), left, tc.want, tc.wantSpares, tc.left)
		}
	}
}

// Marks hold for behindFor under the ring they were made in only.
func TestBehindMarksExpireAndFollowTheRing(t *testing.T) {
	r1, err := ring.New(ring.Config{Partitions: 64, Replicas: 3}, []ring.Member{{ID: "n1", Weight: 1}, {ID: "n2", Weight: 1}, {ID: "n3", Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := r1.Join(ring.Member{ID: "n4", Weight: 1})
	if err != nil {
		t.Fatal(err)
	}
	var b behindMarks
	now := time.Unix(1000, 0)
	b.mark("n4", r2, 7, now)
	for _, tc := range []struct {
		r    *ring.Ring
		p    int
		at   time.Duration
		want bool
	}{
		{r2, 7, 0, true},
		{r2, 7, behindFor - time.Nanosecond, true},
		{r2, 7, behindFor, false},
		{r2, 8, 0, false},
		{r1, 7, 0, false},
		{r2, -1, 0, false},
		{r2, 1 << 20, 0, false},
	} {
		if got := b.is("n4", tc.r, tc.p, now.Add(tc.at)); got != tc.want {
			t.Errorf("is(n4, ring v%d, %d, +%v) = %v, want %v", tc.r.Version(), tc.p, tc.at, got, tc.want)
		}
	}
	b.mark("n4", r1, 3, now) // an answer under the older ring, arriving late
	if !b.is("n4", r2, 7, now) || b.is("n4", r1, 3, now) {
		t.Error("a late answer under an older ring replaced the marks of the newer one")
	}
	if b.is("n3", r2, 7, now) {
		t.Error("a peer never marked reads as behind")
	}
}
