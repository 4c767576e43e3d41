package workload

import (
	"errors"
	"slices"
	"testing"
)

// FuzzCartItems: any bytes decode to a cart without panicking, and a cart
// survives an encode/decode round trip unchanged.
func FuzzCartItems(f *testing.F) {
	for _, s := range []string{"", "1,2,3", "x12,5", "4294967296", ",,,", "7,7,1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		items := MergeItems(AppendItems(nil, value))
		again := MergeItems(AppendItems(nil, EncodeItems(nil, items)))
		if !slices.Equal(items, again) {
			t.Fatalf("%q: %v re-decodes as %v", value, items, again)
		}
	})
}

// FuzzParseMix: a mix either parses and round-trips through String, or is
// rejected with ErrBadSpec.
func FuzzParseMix(f *testing.F) {
	for _, s := range []string{"get=9,set=1", "cart=1", "get=0", "delete= 3 ,get=1", "x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			if !errors.Is(err, ErrBadSpec) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if again, err := ParseMix(m.String()); err != nil || again != m {
			t.Fatalf("%q: round trip %q gave %v, %v", s, m.String(), again, err)
		}
	})
}

// FuzzParseSizeRange: accepted ranges are valid and round-trip.
func FuzzParseSizeRange(f *testing.F) {
	for _, s := range []string{"100", "64-1024", "-1", "5-3", "1048576"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseSizeRange(s)
		if err != nil {
			return
		}
		if r.Validate() != nil {
			t.Fatalf("%q accepted as invalid %+v", s, r)
		}
		if again, err := ParseSizeRange(r.String()); err != nil || again != r {
			t.Fatalf("%q: round trip gave %+v, %v", s, again, err)
		}
	})
}
