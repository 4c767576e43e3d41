package compat

import (
	"slices"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/protocol/server"
)

// RunDifferential sends every case in cases to a real memcached and to our
// server over newKV and fails each case whose normalised replies differ.
func RunDifferential(t *testing.T, newKV NewKV, cases []Case) {
	ref := StartMemcached(t)
	ours := StartServer(t, newKV(t), server.Options{})
	t.Run("stats_fields", func(t *testing.T) { compareStatsFields(t, ref, ours) })
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, err := runCase(ref, c)
			if err != nil {
				t.Fatalf("memcached: %v", err)
			}
			got, err := runCase(ours, c)
			if err != nil {
				t.Fatalf("ours: %v", err)
			}
			if Normalize(got) != Normalize(want) {
				t.Errorf("replies differ\nmemcached: %q\nours:      %q", want, got)
			}
		})
	}
}

// runCase flushes addr and plays one case on a fresh connection.
func runCase(addr string, c Case) ([]byte, error) {
	if _, err := Exchange(addr, []string{"flush_all\r\n"}, false, 0); err != nil {
		return nil, err
	}
	if c.Sync {
		return ExchangeSync(addr, c.Chunks)
	}
	return Exchange(addr, c.Chunks, c.Closes, c.Pause)
}

// isEngineStat reports whether a stats line is not one of the memcached
// fields we print, so it must be one of the engine's own, which come last.
func isEngineStat(name string) bool {
	return !strings.Contains("pid uptime time version pointer_size rusage_user rusage_system "+
		"max_connections curr_connections total_connections rejected_connections "+
		"connection_structures cmd_get cmd_set cmd_flush cmd_touch cmd_meta get_hits "+
		"get_misses get_expired get_flushed delete_misses delete_hits incr_misses incr_hits "+
		"decr_misses decr_hits cas_misses cas_hits cas_badval touch_hits touch_misses "+
		"store_too_large store_no_memory idle_kicks bytes_read bytes_written limit_maxbytes "+
		"accepting_conns threads bytes curr_items total_items evictions ", name+" ")
}

// compareStatsFields checks that the memcached fields "stats" prints come
// in memcached's order and that we print no field memcached lacks, apart
// from the engine's own lines at the end.
func compareStatsFields(t *testing.T, ref, ours string) {
	names := func(addr string) []string {
		out, err := Exchange(addr, []string{"stats\r\n"}, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, line := range strings.Split(string(out), "\r\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "STAT" {
				n = append(n, f[1])
			}
		}
		return n
	}
	want, got := names(ref), names(ours)
	var shared []string
	for i, name := range got {
		if !slices.Contains(want, name) {
			if !isEngineStat(name) || !allEngine(got[i:]) {
				t.Errorf("stat %q is not memcached's and not at the end", name)
			}
			continue
		}
		shared = append(shared, name)
	}
	var order []string
	for _, name := range want {
		if slices.Contains(shared, name) {
			order = append(order, name)
		}
	}
	if !slices.Equal(shared, order) {
		t.Errorf("stat order differs:\n got %v\nwant %v", shared, order)
	}
	for _, must := range []string{"pid", "uptime", "curr_connections", "cmd_get", "get_hits", "bytes", "curr_items", "evictions"} {
		if !slices.Contains(got, must) {
			t.Errorf("stat %q missing", must)
		}
	}
}

func allEngine(names []string) bool {
	for _, n := range names {
		if !isEngineStat(n) {
			return false
		}
	}
	return true
}
