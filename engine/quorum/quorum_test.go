package quorum

import "testing"

func TestTracker(t *testing.T) {
	// events: 'a' ack, 'f' fail. want: outcome after each event; asks: how
	// many failures handed their slot to a fallback.
	tests := []struct {
		name               string
		need, asked, spare int
		events             string
		want               []Outcome
		fallbacks          int
	}{
		{"W=2 of 3, all ack", 2, 3, 0, "aaa", []Outcome{Pending, Won, Won}, 0},
		{"W=2 of 3, one down, no spares", 2, 3, 0, "faa", []Outcome{Pending, Pending, Won}, 0},
		{"W=2 of 3, two down, no spares", 2, 3, 0, "ff", []Outcome{Pending, Lost}, 0},
		{"W=2 of 3, two down, fallbacks answer", 2, 3, 2, "ffaa", []Outcome{Pending, Pending, Pending, Won}, 2},
		{"W=3 of 3, whole list down", 3, 3, 1, "ffff", []Outcome{Pending, Lost, Lost, Lost}, 1},
		{"R=1 first answer wins", 1, 3, 0, "a", []Outcome{Won}, 0},
		{"W=1, failures then ack", 1, 1, 2, "ffa", []Outcome{Pending, Pending, Won}, 2},
		{"no fallback once won", 1, 2, 3, "af", []Outcome{Won, Won}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(tc.need, tc.asked, tc.spare)
			fallbacks := 0
			for i, ev := range tc.events {
				var got Outcome
				if ev == 'a' {
					got = tr.Ack()
				} else {
					var next bool
					got, next = tr.Fail()
					if next {
						fallbacks++
					}
				}
				if got != tc.want[i] {
					t.Fatalf("after event %d (%c): %v, want %v", i, ev, got, tc.want[i])
				}
			}
			if fallbacks != tc.fallbacks {
				t.Fatalf("fallbacks asked = %d, want %d", fallbacks, tc.fallbacks)
			}
		})
	}
}

func TestHedge(t *testing.T) {
	tr := New(2, 2, 2)
	if !tr.Hedge() || tr.InFlight() != 3 {
		t.Fatalf("a hedge with spares left: in flight %d, want 3", tr.InFlight())
	}
	// The hedged replica's answer counts like any other.
	if tr.Fail(); tr.Ack() != Pending {
		t.Fatal("one ack of two decided the round")
	}
	if tr.Ack() != Won {
		t.Fatal("two acks did not win")
	}
	if tr.Hedge() {
		t.Fatal("a decided round hedged")
	}
	empty := New(1, 1, 0)
	if empty.Hedge() {
		t.Fatal("hedged without a candidate")
	}
}
