package compat

import (
	"fmt"
	"os"
	"testing"
)

// RequireEnv names the environment variable that turns a missing external
// program (memcached, a third-party client) from a skipped test into a
// failed one. CI sets it, so the comparisons cannot silently not run.
const RequireEnv = "DYNAMO_REQUIRE_EXTERNAL"

// missing skips tb, or fails it when RequireEnv is set.
func missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	if os.Getenv(RequireEnv) != "" {
		tb.Fatalf("%s (%s is set, so this is a failure)", msg, RequireEnv)
	}
	tb.Skip(msg)
}
