package memcache

import (
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
)

// harness runs request text through a parser and an executor over the fake
// engine with a clock the test moves.
type harness struct {
	t   *testing.T
	now time.Time
	kv  *fakekv.KV
	e   *Executor
	s   Session
	p   *Parser
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, now: time.Unix(1_700_000_000, 0), p: NewParser(0)}
	clock := func() time.Time { return h.now }
	h.kv = fakekv.New(clock)
	h.e = NewExecutor(h.kv, Options{Now: clock, Retries: 4})
	return h
}

// do executes every command in in and returns the replies.
func (h *harness) do(in string) string {
	h.t.Helper()
	var out []byte
	var cmd Command
	buf := []byte(in)
	for len(buf) > 0 {
		n, err := h.p.Next(buf, &cmd)
		if err != nil || n == 0 {
			h.t.Fatalf("parse stopped with %d bytes left (err %v)", len(buf), err)
		}
		out = h.e.Execute(&h.s, &cmd, out)
		buf = buf[n:]
	}
	return string(out)
}

func (h *harness) expect(in, want string) {
	h.t.Helper()
	if got := h.do(in); got != want {
		h.t.Errorf("%q:\n got %q\nwant %q", in, got, want)
	}
}

func TestExpiryArithmetic(t *testing.T) {
	h := newHarness(t)
	h.expect("set a 0 100 1\r\nx\r\nmg a t\r\n", "STORED\r\nHD t100\r\n")
	h.now = h.now.Add(40 * time.Second)
	h.expect("mg a t\r\n", "HD t60\r\n")
	h.now = h.now.Add(60 * time.Second)
	h.expect("get a\r\n", "END\r\n")

	abs := h.now.Unix() + 500
	h.expect("set b 0 "+itoa(abs)+" 1\r\nx\r\nmg b t\r\n", "STORED\r\nHD t500\r\n")
	h.expect("set c 0 -1 1\r\nx\r\nget c\r\n", "STORED\r\nEND\r\n")
	h.expect("set d 0 0 1\r\nx\r\ngat 30 d\r\nmg d t\r\n", "STORED\r\nVALUE d 0 1\r\nx\r\nEND\r\nHD t30\r\n")
	h.expect("touch d 0\r\nmg d t\r\n", "TOUCHED\r\nHD t-1\r\n")
	h.expect("mg d T10 t\r\nmg d t\r\n", "HD t10\r\nHD t10\r\n")

	// ma: t before T reports the old expiry, after it the new one.
	h.expect("set n 0 0 1\r\n1\r\nma n t T20\r\nmg n t\r\nma n T30 t\r\n", "STORED\r\nHD t-1\r\nHD t20\r\nHD t30\r\n")
	h.expect("ma v t N50 J7 v\r\nmg v t\r\n", "VA 1 t-1\r\n7\r\nHD t50\r\n")
	h.expect("ma w N50 J7 t\r\n", "HD t50\r\n")
}

func TestFlushAllDelay(t *testing.T) {
	h := newHarness(t)
	h.expect("set a 0 0 1\r\nx\r\nflush_all 10\r\nget a\r\n", "STORED\r\nOK\r\nVALUE a 0 1\r\nx\r\nEND\r\n")
	h.now = h.now.Add(10 * time.Second)
	h.expect("get a\r\n", "END\r\n")
	h.expect("set a 0 0 1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n")
}

// interfere makes the next n conditional writes lose to another writer that
// sets key to value just before them.
func interfere(h *harness, key, value string, n int) *atomic.Int32 {
	var left atomic.Int32
	left.Store(int32(n))
	h.kv.SetFaults(fakekv.Faults{BeforePut: func(k []byte, req *kv.PutRequest) {
		if string(k) != key || req.Cond != kv.CondCAS || left.Add(-1) < 0 {
			return
		}
		// Runs outside the fake's lock, as a concurrent client would.
		if _, err := h.kv.Put(k, &kv.PutRequest{Value: []byte(value), SupersedeAll: true}); err != nil {
			h.t.Errorf("interfering put: %v", err)
		}
	}})
	return &left
}

func TestReadModifyWriteRetries(t *testing.T) {
	h := newHarness(t)
	h.expect("set a 0 0 1\r\na\r\n", "STORED\r\n")
	interfere(h, "a", "X", 2)
	h.expect("append a 0 0 1\r\nb\r\nget a\r\n", "STORED\r\nVALUE a 0 2\r\nXb\r\nEND\r\n")

	// incr and decr are one atomic engine write, not a read and a
	// conditional rewrite: a write just before one is simply counted on.
	h.expect("set n 0 0 1\r\n5\r\n", "STORED\r\n")
	h.kv.SetFaults(fakekv.Faults{BeforePut: func(k []byte, req *kv.PutRequest) {
		if string(k) == "n" && req.Arith != nil {
			if _, err := h.kv.Put(k, &kv.PutRequest{Value: []byte("41"), SupersedeAll: true}); err != nil {
				h.t.Errorf("interfering put: %v", err)
			}
		}
	}})
	h.expect("incr n 1\r\n", "42\r\n")
	h.kv.SetFaults(fakekv.Faults{})

	h.expect("set t 0 0 1\r\nv\r\n", "STORED\r\n")
	interfere(h, "t", "w", 3)
	h.expect("touch t 100\r\nmg t v t\r\n", "TOUCHED\r\nVA 1 t100\r\nw\r\n")
}

func TestContentionGivesUp(t *testing.T) {
	h := newHarness(t)
	h.expect("set a 0 0 1\r\na\r\n", "STORED\r\n")
	interfere(h, "a", "X", 1000)
	h.expect("append a 0 0 1\r\nb\r\n", "SERVER_ERROR too much contention, try again\r\n")
	h.expect("set n 0 0 1\r\n1\r\n", "STORED\r\n")
	interfere(h, "n", "7", 1000)
	h.expect("incr n 1\r\n", "2\r\n") // atomic: nothing to contend with
	interfere(h, "a", "X", 1000)
	// With an explicit CAS the first mismatch is the answer, not a retry.
	h.expect("ms a 1 MA C1\r\nb\r\n", "EX\r\n")
}

func TestEngineErrors(t *testing.T) {
	h := newHarness(t)
	h.expect("set a 0 0 1\r\na\r\n", "STORED\r\n")
	h.kv.SetFaults(fakekv.Faults{PutErr: fakekv.ErrInjected})
	h.expect("set a 0 0 1\r\nb\r\nms a 1\r\nb\r\ndelete a\r\n",
		"SERVER_ERROR fakekv: injected fault\r\nSERVER_ERROR fakekv: injected fault\r\nSERVER_ERROR fakekv: injected fault\r\n")
	h.expect("set a 0 0 1 noreply\r\nb\r\n", "")
	h.kv.SetFaults(fakekv.Faults{GetErr: fakekv.ErrInjected})
	h.expect("get a b\r\nmg a v\r\n", "SERVER_ERROR fakekv: injected fault\r\nSERVER_ERROR fakekv: injected fault\r\n")
	h.kv.SetFaults(fakekv.Faults{})
	h.kv.Close()
	h.expect("get a\r\n", "SERVER_ERROR engine: closed\r\n")
}

var contextRE = regexp.MustCompile(`CONTEXT (\S+) (\d+) (\S+)`)

func TestVersionedExtensions(t *testing.T) {
	h := newHarness(t)
	h.expect("putv a 1 0 2 -\r\nv1\r\n", "STORED AQE=\r\n")
	// A second write naming no context leaves the first as a sibling.
	h.expect("putv a 2 0 2 -\r\nv2\r\n", "STORED AQI=\r\n")
	got := h.do("getv a zz\r\n")
	ts := regexp.MustCompile(`SIBLING 1 2 0 (\d+) live\r\nv1\r\nSIBLING 2 2 0 (\d+) live\r\nv2\r\nEND\r\n$`)
	if !strings.HasPrefix(got, "CONTEXT a 2 AQI=\r\n") || !ts.MatchString(got) {
		t.Fatalf("getv: %q", got)
	}
	// Classic clients see the last writer.
	h.expect("get a\r\nmg a X Y v\r\n", "VALUE a 2 2\r\nv2\r\nEND\r\nVA 2 XAQI= Y2\r\nv2\r\n")
	// Writing with the context supersedes both.
	h.expect("putv a 3 0 2 AQI=\r\nv3\r\n", "STORED AQM=\r\n")
	if n := contextRE.FindStringSubmatch(h.do("getv a\r\n")); n == nil || n[2] != "1" {
		t.Fatalf("want one sibling after a covering write, got %v", n)
	}
	h.expect("delv a AQM=\r\nget a\r\n", "DELETED AQQ=\r\nEND\r\n")
	if got := h.do("getv a\r\n"); !regexp.MustCompile(`^CONTEXT a 1 AQQ=\r\nSIBLING 0 0 0 \d+ deleted\r\n\r\nEND\r\n$`).MatchString(got) {
		t.Fatalf("getv after delv: %q", got)
	}
	h.expect("putv a 0 0 1 AQQ= noreply\r\nx\r\ndelv a - noreply\r\n", "")
	h.expect("putv a 0 0 1 #bad\r\nx\r\n", "CLIENT_ERROR bad context\r\n")
	h.expect("putv a 0 0 1 AAAA\r\nx\r\n", "CLIENT_ERROR bad context\r\n") // decodes, but not an engine context
}

func TestMetaExtensions(t *testing.T) {
	h := newHarness(t)
	var last kv.PutRequest
	h.kv.SetFaults(fakekv.Faults{BeforePut: func(_ []byte, req *kv.PutRequest) { last = *req }})
	h.expect("ms a 2 Ds\r\nv1\r\n", "HD\r\n")
	if last.Durability != kv.Sync || !last.SupersedeAll {
		t.Errorf("ms Ds: %+v", last)
	}
	// X names the context to supersede: the empty context supersedes
	// nothing, so the first value stays as a sibling.
	h.expect("ms a 2 X- Db\r\nv2\r\nmg a Y v\r\n", "HD\r\nVA 2 Y2\r\nv2\r\n")
	if last.Durability != kv.Buffered || last.SupersedeAll || len(last.Context) != 0 {
		t.Errorf("ms X- Db: %+v", last)
	}
	ctx := strings.TrimPrefix(strings.Fields(h.do("mg a X\r\n"))[1], "X")
	h.expect("ms a 2 X"+ctx+"\r\nv3\r\nmg a Y v\r\n", "HD\r\nVA 2 Y1\r\nv3\r\n")
	// ctx is stale now: the tombstone becomes a sibling of v3, and as the
	// newest version it is what classic clients see.
	h.expect("md a Dw X"+ctx+"\r\n", "HD\r\n")
	if last.Durability != kv.WAL || !last.Delete || last.SupersedeAll {
		t.Errorf("md Dw: %+v", last)
	}
	if n := contextRE.FindStringSubmatch(h.do("getv a\r\n")); n == nil || n[2] != "2" {
		t.Fatalf("want the tombstone and v3, got %v", n)
	}
	// md of a key with no live value answers NF, and still writes its
	// tombstone (this node's copy may be the stale one), superseding both.
	h.expect("mg a v Y\r\nmd a\r\n", "EN\r\nNF\r\n")
	if n := contextRE.FindStringSubmatch(h.do("getv a\r\n")); n == nil || n[2] != "1" {
		t.Fatalf("want one tombstone, got %v", n)
	}
	// A numeric D is accepted and ignored on ms, as memcached 1.6.18 does.
	h.expect("ms b 1 D5\r\nx\r\n", "HD\r\n")
	h.expect("ms b 1 X#\r\nx\r\nmd b X#\r\n", "CLIENT_ERROR bad context\r\nCLIENT_ERROR bad context\r\n")
}

func TestMetaDeleteRemoveValue(t *testing.T) {
	h := newHarness(t)
	h.expect("set a 5 100 3\r\nabc\r\nmd a x\r\nmg a v f t\r\n", "STORED\r\nHD\r\nVA 0 f0 t-1\r\n\r\n")
	h.expect("set a 5 0 3\r\nabc\r\nmd a x I F9 T30\r\nmg a v f t\r\nmg a v\r\n", "STORED\r\nHD\r\nVA 0 f9 t30 X W\r\n\r\nVA 0 Z X\r\n\r\n")
	h.expect("md zz x\r\n", "NF\r\n")
}

func TestStats(t *testing.T) {
	h := newHarness(t)
	h.do("set a 0 0 1\r\n1\r\nget a b\r\ngets a\r\nincr a 1\r\nincr zz 1\r\ndecr zz 1\r\ndelete b\r\ntouch a 10\r\nme a\r\nflush_all\r\n")
	out := h.do("stats\r\n")
	lines := strings.Split(strings.TrimSuffix(out, "END\r\n"), "\r\n")
	var names []string
	values := map[string]string{}
	for _, l := range lines[:len(lines)-1] {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "STAT" {
			t.Fatalf("bad stat line %q", l)
		}
		names = append(names, f[1])
		values[f[1]] = f[2]
	}
	want := map[string]string{
		"cmd_get": "3", "get_hits": "2", "get_misses": "1", "cmd_set": "1", "cmd_touch": "1",
		"touch_hits": "1", "incr_misses": "1", "decr_misses": "1", "incr_hits": "1",
		"delete_misses": "1", "cmd_flush": "1", "cmd_meta": "1", "total_items": "1",
		"curr_items": "0", "version": DefaultVersion, "time": "1700000000",
		"fakekv_versions": "0",
	}
	for k, v := range want {
		if values[k] != v {
			t.Errorf("stat %s = %q, want %q", k, values[k], v)
		}
	}
	// Field order follows memcached 1.6.18; the engine's own lines come last.
	order := []string{"pid", "uptime", "time", "version", "pointer_size", "rusage_user", "rusage_system",
		"max_connections", "curr_connections", "total_connections", "rejected_connections",
		"connection_structures", "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "cmd_meta",
		"get_hits", "get_misses", "get_expired", "get_flushed", "delete_misses", "delete_hits",
		"incr_misses", "incr_hits", "decr_misses", "decr_hits", "cas_misses", "cas_hits",
		"cas_badval", "touch_hits", "touch_misses", "store_too_large", "store_no_memory", "auth_cmds", "auth_errors",
		"bytes_read", "bytes_written", "limit_maxbytes", "accepting_conns", "threads",
		"bytes", "curr_items", "total_items", "evictions", "fakekv_versions"}
	if strings.Join(names, " ") != strings.Join(order, " ") {
		t.Errorf("stat order:\n got %v\nwant %v", names, order)
	}
	h.expect("stats reset\r\n", "RESET\r\n")
	if !strings.Contains(h.do("stats\r\n"), "STAT cmd_get 0\r\n") {
		t.Error("stats reset did not clear cmd_get")
	}
}

func TestLeaseTableBounded(t *testing.T) {
	lt := newLeaseTable(3)
	for i := range 10 {
		lt.set([]byte{byte('a' + i)}, lease{cas: uint64(i + 1), tokenSent: true})
	}
	if n := lt.n.Load(); n != 3 {
		t.Fatalf("entries = %d, want 3", n)
	}
	if l := lt.get([]byte("j"), 10); !l.tokenSent {
		t.Fatal("latest entry missing")
	}
	if l := lt.get([]byte("j"), 11); l.tokenSent {
		t.Fatal("a different CAS must not see the state")
	}
	if n := lt.n.Load(); n != 2 {
		t.Fatalf("stale entry not dropped: %d", n)
	}
	lt.clear()
	if lt.n.Load() != 0 {
		t.Fatal("clear left entries")
	}
}

func itoa(v int64) string { return string(appendInt(nil, v)) }

type sinkRecorder struct{ chunks [][]byte }

func (r *sinkRecorder) Spill(reply []byte) []byte {
	r.chunks = append(r.chunks, reply)
	return nil
}

func TestMultiGetSpillsLargeReplies(t *testing.T) {
	h := newHarness(t)
	v := strings.Repeat("v", 600_000)
	h.do("set a 0 0 600000\r\n" + v + "\r\nset b 0 0 600000\r\n" + v + "\r\nset c 0 0 600000\r\n" + v + "\r\n")
	var rec sinkRecorder
	h.s.Sink = &rec
	tail := h.do("get a b c\r\n")
	if len(rec.chunks) != 1 {
		t.Fatalf("spilled %d times, want 1", len(rec.chunks))
	}
	got := string(rec.chunks[0]) + tail
	want := "VALUE a 0 600000\r\n" + v + "\r\nVALUE b 0 600000\r\n" + v + "\r\nVALUE c 0 600000\r\n" + v + "\r\nEND\r\n"
	if got != want {
		t.Fatalf("streamed reply differs (len %d vs %d)", len(got), len(want))
	}
}

// TestTouchDescribesNewVersion: after mg T rewrites the value, the reply
// reports the version written (one sibling, its context and CAS), not the
// ones read.
func TestTouchDescribesNewVersion(t *testing.T) {
	h := newHarness(t)
	h.expect("putv s 0 0 1 -\r\nx\r\nputv s 0 0 1 -\r\ny\r\n", "STORED AQE=\r\nSTORED AQI=\r\n")
	h.expect("mg s Y X\r\n", "HD Y2 XAQI=\r\n")
	touched := h.do("mg s T5 Y X c\r\n")
	if !strings.HasPrefix(touched, "HD Y1 XAQM= c") {
		t.Fatalf("touch reply %q", touched)
	}
	if after := h.do("mg s Y X c\r\n"); after != touched {
		t.Fatalf("a later read sees %q, the touch reported %q", after, touched)
	}
}
