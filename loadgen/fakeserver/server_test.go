package fakeserver

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// exchange sends one request batch and reads n reply lines.
func exchange(t *testing.T, addr, req string, n int) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) // a miscounted reply fails instead of hanging
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var lines []string
	for range n {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", lines, err)
		}
		lines = append(lines, strings.TrimRight(l, "\r\n"))
	}
	return lines
}

func TestVersionedWrites(t *testing.T) {
	addr, _, stop, err := Listen(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// Two blind putvs on one key become siblings; a putv carrying the
	// context that names both supersedes them.
	got := exchange(t, addr, "putv k 0 0 1 -\r\na\r\nputv k 0 0 1 -\r\nb\r\ngetv k\r\n", 8)
	if got[2] != "CONTEXT k 2 AAAAAAAAAAEAAAAAAAAAAg==" || got[3] != "SIBLING 0 1 0 1 live" || got[7] != "END" {
		t.Fatalf("siblings: %q", got)
	}
	got = exchange(t, addr, "putv k 0 0 1 AAAAAAAAAAEAAAAAAAAAAg==\r\nc\r\ngetv k\r\nget k\r\ndelete k\r\nget k\r\n", 10)
	if got[1] != "CONTEXT k 1 AAAAAAAAAAM=" || got[3] != "c" || got[5] != "VALUE k 0 1" || got[7] != "END" || got[8] != "DELETED" || got[9] != "END" {
		t.Fatalf("superseded: %q", got)
	}
}

func TestNullMode(t *testing.T) {
	addr, srv, stop, err := Listen(Options{Null: true})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	got := exchange(t, addr, "set a 0 0 1\r\nx\r\nget a\r\ngetv a\r\nputv a 0 0 1 -\r\ny\r\nfoo\r\n", 5)
	want := []string{"STORED", "END", "END", "STORED -", "ERROR"}
	if strings.Join(got, "|") != strings.Join(want, "|") || srv.Requests() != 5 {
		t.Fatalf("got %q (%d requests)", got, srv.Requests())
	}
}
