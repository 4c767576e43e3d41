package profile

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse: any text either loads or fails with a one-line ErrProfile.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/example.toml"); err == nil {
		f.Add(string(data))
	}
	f.Add(full)
	f.Add("[workload]\nconns = 3\n[cluster]\nn = 1\nr = 1\nw = 1\ndurability = \"sync\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(text)
		if err != nil {
			if !errors.Is(err, ErrProfile) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if p.Cluster != nil && p.Cluster.Validate() != nil {
			t.Fatalf("invalid cluster accepted: %+v", p.Cluster)
		}
	})
}
