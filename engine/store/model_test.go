package store

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FuzzStoreMatchesModel drives a store with a byte-coded operation sequence
// (writes in every mode, deletes, flushes, scans, reopens) and compares
// every read with a plain map. Each operation is three bytes: kind, key,
// value length.
func FuzzStoreMatchesModel(f *testing.F) {
	f.Add([]byte{0, 1, 10, 4, 0, 0, 3, 1, 0, 5, 0, 0})
	f.Add([]byte{2, 3, 200, 6, 0, 0, 1, 3, 7, 3, 3, 0, 5, 0, 0, 6, 0, 0, 7, 0, 0})
	f.Add(bytes.Repeat([]byte{0, 2, 255, 1, 5, 255, 3, 2, 0, 4, 0, 0}, 20))
	f.Add([]byte{1, 0, 0, 1, 1, 1, 3, 0, 0, 6, 0, 0, 5, 0, 0, 0, 0, 9, 3, 1, 0, 7, 0, 0})
	f.Fuzz(runModelScript)
}

// runModelScript is the body of FuzzStoreMatchesModel.
func runModelScript(t *testing.T, data []byte) {
	if len(data) > 600 {
		data = data[:600]
	}
	fs := vfs.NewMem()
	opts := testOptions(fs)
	opts.FlushInterval = 0 // the 10 ms timer interleaves with the script
	opts.BufferBytes = 8 << 10
	s := mustOpen(t, opts)
	model := map[string]string{}
	for i := 0; i+2 < len(data); i += 3 {
		key := fmt.Sprintf("k%d", data[i+1]%8)
		value := fmt.Sprintf("%s@%d:%s", key, i, bytes.Repeat([]byte{'v'}, int(data[i+2])*7))
		switch data[i] % 8 {
		case 0, 1, 2:
			mustSet(t, s, key, value, modes[data[i]%8])
			model[key] = value
		case 3:
			mustDelete(t, s, key, modes[data[i+2]%3])
			delete(model, key)
		case 4:
			mustFlush(t, s)
		case 5:
			expectModel(t, s, model)
		case 6:
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, opts)
		case 7:
			lo := fmt.Sprintf("k%d", data[i+1]%8)
			hi := fmt.Sprintf("k%d", data[i+2]%9)
			expectRange(t, s, model, lo, hi)
		}
		v, ok := model[key]
		expectGet(t, s, key, v, ok)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	expectModel(t, mustOpen(t, opts), model)
}

func expectModel(t *testing.T, s *Store, model map[string]string) {
	t.Helper()
	expectRange(t, s, model, "", "")
}

// expectRange compares Scan(lo, hi) with the model ("" = open bound).
func expectRange(t *testing.T, s *Store, model map[string]string, lo, hi string) {
	t.Helper()
	var want []string
	for _, k := range slices.Sorted(maps.Keys(model)) {
		if (lo == "" || k >= lo) && (hi == "" || k < hi) {
			want = append(want, k+"="+model[k])
		}
	}
	var loB, hiB []byte
	if lo != "" {
		loB = []byte(lo)
	}
	if hi != "" {
		hiB = []byte(hi)
	}
	if got := scanAll(t, s, loB, hiB, 0); !slices.Equal(got, want) {
		t.Fatalf("Scan(%q, %q) = %d pairs, want %d\n got %.200q\nwant %.200q", lo, hi, len(got), len(want), got, want)
	}
}
