package cluster

import (
	"errors"
	"testing"
)

func TestInSync(t *testing.T) {
	a, b := []byte("record-a"), []byte("record-b")
	boom := errors.New("unreachable")
	for _, tc := range []struct {
		name string
		got  []reply
		want bool
	}{
		{"all identical", []reply{{rec: a, ok: true}, {rec: []byte("record-a"), ok: true}, {rec: a, ok: true}}, true},
		{"one differs", []reply{{rec: a, ok: true}, {rec: b, ok: true}}, false},
		{"one lacks the key", []reply{{rec: a, ok: true}, {ok: false}}, false},
		{"one failed", []reply{{rec: a, ok: true}, {err: boom}}, false},
		{"none has the key", []reply{{ok: false}, {ok: false}}, false},
	} {
		if got := inSync(tc.got); got != tc.want {
			t.Errorf("%s: inSync = %v, want %v", tc.name, got, tc.want)
		}
	}
}
