package main

import (
	"strings"
	"testing"
)

func TestVersionAndUsageErrors(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"-version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "dynctl ") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("-version: exit %d, %q %q", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), "need one command") {
		t.Fatalf("unknown command: exit %d, %q", code, errOut.String())
	}
}
