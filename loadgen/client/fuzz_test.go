package client

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse checks the parser on arbitrary bytes: it never panics, never
// claims bytes it was not given, and a reply it accepts is exactly
// delimited: every strict prefix is incomplete and appending bytes changes
// nothing.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in), uint8(tc.want))
	}
	f.Fuzz(func(t *testing.T, data []byte, shape uint8) {
		want := Reply(shape % 5)
		var r Response
		n, err := Parse(data, want, &r)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n=%d", err, n)
			}
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("n=%d for %d bytes", n, len(data))
		}
		status, siblings := r.Status, len(r.Siblings)
		var scratch Response
		for _, cut := range []int{0, n / 2, n - 1} {
			if _, err := Parse(data[:cut], want, &scratch); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("prefix of %d/%d bytes: %v", cut, n, err)
			}
		}
		var again Response
		extended := append(bytes.Clone(data[:n]), "VALUE junk\r\n"...)
		if m, err := Parse(extended, want, &again); err != nil || m != n || again.Status != status || len(again.Siblings) != siblings {
			t.Fatalf("reparse with trailing bytes: n=%d err=%v", m, err)
		}
	})
}
