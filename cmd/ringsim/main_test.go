package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestRunPrintsOneRowPerShape(t *testing.T) {
	opts, err := parseFlags([]string{"-nodes", "4,8,100", "-q", "64,256", "-zones", "2", "-weights", "1,2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(&out, opts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// title, blank, header, then 4+8 on Q=64 and 4, 8 and 100 on Q=256.
	if len(lines) != 3+5 {
		t.Fatalf("got %d lines:\n%s", len(lines), out.String())
	}
	for _, l := range lines[3:] {
		if f := strings.Fields(l); len(f) < 20 || f[len(f)-2] == "NaN" {
			t.Fatalf("short or broken row %q", l)
		}
	}
}

func TestParseFlagsRejectsBadLists(t *testing.T) {
	for _, args := range [][]string{{"-nodes", "4,x"}, {"-q", ""}, {"-weights", "1,,2"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%v) accepted", args)
		}
	}
}
