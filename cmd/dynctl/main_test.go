package main

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/ring"
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
	for args, want := range map[string]string{
		"remove":        "remove needs the node's ID: dynctl remove ID",
		"remove n3 n4":  "remove needs the node's ID",
		"status extra":  `status takes no argument, got "extra"`,
		"leave now yes": `leave takes no argument, got "now yes"`,
	} {
		errOut.Reset()
		if code := run(strings.Fields(args), &out, &errOut); code != 2 || strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), want) {
			t.Errorf("%s: exit %d, %q; want exit 2 and %q", args, code, errOut.String(), want)
		}
	}
}

func TestHintsView(t *testing.T) {
	var out strings.Builder
	printHints(&out, "127.0.0.1:21211", nil)
	if got := out.String(); got != "no hints: 127.0.0.1:21211 holds no write owed to another node\n" {
		t.Fatalf("empty: %q", got)
	}
	out.Reset()
	printHints(&out, "x", [][2]string{{"hints:n2", "12"}, {"hints:n3", "4"}})
	if got := out.String(); got != "OWNER  HINTS\nn2     12\nn3     4\n" {
		t.Fatalf("table: %q", got)
	}
}

func TestTransfersView(t *testing.T) {
	var out strings.Builder
	printTransfers(&out, "n4", [][2]string{
		{"catching:17", "pulled=n1,left=n2+n3,age=1.2s,records=1500,bytes=1572864"},
		{"catchup_partitions", "3/4"},
		{"catchup_records", "4500"},
		{"catchup_bytes", "4718592"},
		{"catchup_elapsed", "30s"},
		{"catchup_records_per_sec", "150"},
		{"catchup_eta", "10s"},
		{"cluster_partitions_catching_up", "1"},
	})
	want := "caught up 3 of 4 partitions; pulled 4500 records (4.5 MiB) in 30s, 150 records/s; about 10s left at this pace\n" +
		"PARTITION  PULLED FROM  LEFT   RECORDS  BYTES    AGE\n17         n1           n2+n3  1500     1.5 MiB  1.2s\n\ncluster_partitions_catching_up: 1\n"
	if got := out.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got := catchUpLine(map[string]string{"partitions": "1/4", "records": "9", "bytes": "900", "elapsed": "2s"}, true); got != "[#######.......................]  25%  caught up 1 of 4 partitions; pulled 9 records (900 B) in 2s" {
		t.Fatalf("with a bar: %q", got)
	}
	out.Reset()
	printTransfers(&out, "n4", nil)
	if !strings.HasPrefix(out.String(), "n4 is catching up no partition") {
		t.Fatalf("none: %q", out.String())
	}
}

func TestRingView(t *testing.T) {
	members := []ring.Member{{ID: "n1", Weight: 1}, {ID: "n2", Weight: 1}, {ID: "n3", Weight: 1}, {ID: "n4", Weight: 1}}
	r, err := ring.New(ring.Config{Partitions: 16, Replicas: 3}, members)
	if err != nil {
		t.Fatal(err)
	}
	stats := [][2]string{{"version", "1"}, {"ring", base64.StdEncoding.EncodeToString(r.Encode())}, {"client:n1", "127.0.0.1:21211"}}
	var out strings.Builder
	if err := printRing(&out, stats); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"ring v1: 16 partitions, N=3, 4 members",
		"MEMBER  ZONE  WEIGHT  OWNS  SHARE  REPLICA OF  CLIENT",
		"n1      -     1       4     25.0%  12          127.0.0.1:21211",
		"PARTITIONS",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("missing %q in\n%s", want, got)
		}
	}
	// Every partition appears once, with its preference list.
	rows := 0
	for _, line := range strings.Split(got, "\n") {
		if f := strings.Fields(line); len(f) == 5 && strings.HasPrefix(f[1], "0") {
			rows++
		}
	}
	if rows == 0 || rows > 16 {
		t.Fatalf("%d partition rows in\n%s", rows, got)
	}
	if err := printRing(&out, nil); err == nil {
		t.Fatal("no ring: no error")
	}
}
