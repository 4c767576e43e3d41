package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
)

// cutAtRejectedBlock returns a pipeline whose first batch's replies reach
// maxBatchOutput exactly at a rejected ms (an invalid mode), whose data
// block the parser discards: four gets of a 900 KB value and one of a
// value sized so that the replies end 10 bytes short of the cap, then the
// rejected ms, whose error line crosses it. setup stores the two values; want is every reply of req, in order.
func cutAtRejectedBlock() (setup, req, want string) {
	getReply := func(key, v string) string {
		return "VALUE " + key + " 0 " + strconv.Itoa(len(v)) + "\r\n" + v + "\r\nEND\r\n"
	}
	big := strings.Repeat("b", 900_000)
	target := maxBatchOutput - 10 - 4*len(getReply("big", big))
	midLen := target - len(getReply("mid", ""))
	for len(getReply("mid", strings.Repeat("m", midLen))) > target {
		midLen-- // the length's own digits
	}
	mid := strings.Repeat("m", midLen)
	setup = "set big 0 0 900000\r\n" + big + "\r\nset mid 0 0 " + strconv.Itoa(midLen) + "\r\n" + mid + "\r\n"
	var r, w strings.Builder
	for range 4 {
		r.WriteString("get big\r\n")
		w.WriteString(getReply("big", big))
	}
	r.WriteString("get mid\r\n")
	w.WriteString(getReply("mid", mid))
	r.WriteString("ms bad 10 MZ\r\n0123456789\r\n")
	w.WriteString("CLIENT_ERROR invalid mode for ms M token\r\n")
	for range 7 {
		r.WriteString("get big\r\n")
		w.WriteString(getReply("big", big))
	}
	r.WriteString("get nothing\r\nset after 0 0 1\r\nz\r\nget after\r\n")
	w.WriteString("END\r\nSTORED\r\n" + getReply("after", "z"))
	return setup, r.String(), w.String()
}

// TestBatchCutResumesParser runs the loop's parse, execute and resume
// steps by hand over input that is all buffered at once. The first batch
// is cut right after the rejected ms, while the parser has already
// discarded its data block: resuming must put back the discard still owed
// at the cut, or the block would be parsed as a command.
func TestBatchCutResumesParser(t *testing.T) {
	s, err := New(fakekv.New(nil), Options{MaxItemSize: 1 << 20, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	st := &conn{}
	st.parser.Reset(s.opts.MaxItemSize)
	sess := new(memcache.Session)
	run := func(in string) (out string, batches []int) {
		for off := 0; off < len(in); {
			b := s.batches.Get().(*batch)
			buf := []byte(in[off:])
			s.parseBatch(st, buf, b)
			if b.consumed == 0 {
				t.Fatalf("stuck at offset %d of %d", off, len(in))
			}
			b.in = append(b.in[:0], buf[:b.consumed]...)
			for i := range b.cmds {
				b.cmds[i].Rebase(buf, b.in)
			}
			out += string(s.execute(sess, b, false))
			off += b.consumed
			st.parser.Restore(b.resume)
			batches = append(batches, b.consumed)
			s.putBatch(b)
		}
		return out, batches
	}
	setup, req, want := cutAtRejectedBlock()
	if out, _ := run(setup); out != "STORED\r\nSTORED\r\n" {
		t.Fatalf("setup: %q", out)
	}
	out, batches := run(req)
	if out != want {
		n := 0
		for n < len(out) && n < len(want) && out[n] == want[n] {
			n++
		}
		t.Fatalf("replies differ from byte %d of %d: got %q...", n, len(want), out[n:min(len(out), n+80)])
	}
	firstCut := strings.Index(req, "ms bad")
	firstCut += strings.Index(req[firstCut:], "\r\n") + 2
	if batches[0] != firstCut {
		t.Fatalf("first batch consumed %d bytes, want %d (through the rejected ms's command line)", batches[0], firstCut)
	}
}
