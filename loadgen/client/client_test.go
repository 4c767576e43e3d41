package client

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestAppendRequests(t *testing.T) {
	k := []byte("key:7")
	for _, tc := range []struct {
		got, want string
	}{
		{string(AppendGet(nil, k)), "get key:7\r\n"},
		{string(AppendSet(nil, k, 3, 60, []byte("abc"))), "set key:7 3 60 3\r\nabc\r\n"},
		{string(AppendSet(nil, k, 0, 0, nil)), "set key:7 0 0 0\r\n\r\n"},
		{string(AppendDelete(nil, k)), "delete key:7\r\n"},
		{string(AppendGetv(nil, k)), "getv key:7\r\n"},
		{string(AppendPutv(nil, k, 1, 0, []byte("1,2"), nil)), "putv key:7 1 0 3 -\r\n1,2\r\n"},
		{string(AppendPutv(nil, k, 0, 5, []byte("9"), []byte("Y3R4"))), "putv key:7 0 5 1 Y3R4\r\n9\r\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

type parseCase struct {
	name  string
	want  Reply
	in    string
	check func(t *testing.T, r *Response)
	err   error // nil: success
}

func status(s Status) func(*testing.T, *Response) {
	return func(t *testing.T, r *Response) {
		t.Helper()
		if r.Status != s {
			t.Errorf("status %v, want %v", r.Status, s)
		}
	}
}

var parseCases = []parseCase{
	{"miss", ReplyGet, "END\r\n", status(StatusMiss), nil},
	{"hit", ReplyGet, "VALUE key:1 5 3\r\nabc\r\nEND\r\n", func(t *testing.T, r *Response) {
		if r.Status != StatusHit || r.Flags != 5 || string(r.Value) != "abc" {
			t.Errorf("got %+v", r)
		}
	}, nil},
	{"hit with cas", ReplyGet, "VALUE k 0 0 77\r\n\r\nEND\r\n", func(t *testing.T, r *Response) {
		if r.Status != StatusHit || r.CAS != 77 || len(r.Value) != 0 {
			t.Errorf("got %+v", r)
		}
	}, nil},
	{"value with CRLF inside", ReplyGet, "VALUE k 0 4\r\n\r\n\r\n\r\nEND\r\n", func(t *testing.T, r *Response) {
		if string(r.Value) != "\r\n\r\n" {
			t.Errorf("value %q", r.Value)
		}
	}, nil},
	{"stored", ReplyStore, "STORED\r\n", status(StatusStored), nil},
	{"not stored", ReplyStore, "NOT_STORED\r\n", status(StatusNotStored), nil},
	{"exists", ReplyStore, "EXISTS\r\n", status(StatusExists), nil},
	{"deleted", ReplyDelete, "DELETED\r\n", status(StatusDeleted), nil},
	{"delete miss", ReplyDelete, "NOT_FOUND\r\n", status(StatusNotFound), nil},
	{"server error", ReplyStore, "SERVER_ERROR out of memory\r\n", func(t *testing.T, r *Response) {
		if r.Status != StatusServerError || string(r.Message) != "out of memory" || !r.Status.IsError() {
			t.Errorf("got %+v", r)
		}
	}, nil},
	{"client error", ReplyGet, "CLIENT_ERROR bad command line format\r\n", status(StatusClientError), nil},
	{"unknown command", ReplyGetv, "ERROR\r\n", status(StatusError), nil},
	{"getv miss", ReplyGetv, "END\r\n", status(StatusMiss), nil},
	{"getv two siblings", ReplyGetv,
		"CONTEXT cart:1 2 AAEC\r\nSIBLING 0 3 0 17 live\r\n1,2\r\nSIBLING 4 0 99 18 deleted\r\n\r\nEND\r\n",
		func(t *testing.T, r *Response) {
			if r.Status != StatusHit || string(r.Context) != "AAEC" || len(r.Siblings) != 2 {
				t.Fatalf("got %+v", r)
			}
			s0, s1 := r.Siblings[0], r.Siblings[1]
			if string(s0.Value) != "1,2" || s0.Timestamp != 17 || s0.Deleted ||
				!s1.Deleted || s1.Flags != 4 || s1.Exptime != 99 {
				t.Errorf("siblings %+v", r.Siblings)
			}
		}, nil},
	{"getv empty context", ReplyGetv, "CONTEXT k 0 -\r\nEND\r\n", func(t *testing.T, r *Response) {
		if r.Context != nil || len(r.Siblings) != 0 {
			t.Errorf("got %+v", r)
		}
	}, nil},
	{"putv", ReplyPutv, "STORED QUJD\r\n", func(t *testing.T, r *Response) {
		if r.Status != StatusStored || string(r.Context) != "QUJD" {
			t.Errorf("got %+v", r)
		}
	}, nil},
	{"bare LF", ReplyStore, "STORED\n", nil, ErrProtocol},
	{"reply of another command", ReplyGet, "STORED\r\n", nil, ErrProtocol},
	{"bad data terminator", ReplyGet, "VALUE k 0 3\r\nabcXYEND\r\n", nil, ErrProtocol},
	{"bad length", ReplyGet, "VALUE k 0 -1\r\n", nil, ErrProtocol},
	{"huge length", ReplyGet, "VALUE k 0 999999999999\r\n", nil, ErrProtocol},
	{"flags overflow", ReplyGet, "VALUE k 4294967296 1\r\nx\r\nEND\r\n", nil, ErrProtocol},
	{"two values for one key", ReplyGet, "VALUE k 0 1\r\nx\r\nVALUE k 0 1\r\ny\r\nEND\r\n", nil, ErrProtocol},
	{"bad sibling state", ReplyGetv, "CONTEXT k 1 X\r\nSIBLING 0 1 0 1 zombie\r\nx\r\nEND\r\n", nil, ErrProtocol},
	{"too many siblings", ReplyGetv, "CONTEXT k 70000 X\r\n", nil, ErrProtocol},
	{"putv without context", ReplyPutv, "STORED\r\n", nil, ErrProtocol},
	{"ERRORS is not ERROR", ReplyStore, "ERRORS\r\n", nil, ErrProtocol},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			// Trailing bytes of the next reply must not be consumed.
			n, err := Parse([]byte(tc.in+"END\r\n"), tc.want, &r)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || n != len(tc.in) {
				t.Fatalf("n=%d err=%v, want n=%d", n, err, len(tc.in))
			}
			tc.check(t, &r)
			// Every strict prefix of a valid reply is incomplete.
			for i := range len(tc.in) {
				if _, err := Parse([]byte(tc.in[:i]), tc.want, &r); !errors.Is(err, ErrIncomplete) {
					t.Fatalf("prefix %q: err %v, want ErrIncomplete", tc.in[:i], err)
				}
			}
		})
	}
}

func TestParseLineTooLong(t *testing.T) {
	var r Response
	_, err := Parse(bytes.Repeat([]byte("x"), MaxLineLength+1), ReplyGet, &r)
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("got %v", err)
	}
}

// trickleConn delivers the scripted reply stream a few bytes per Read.
type trickleConn struct {
	net.Conn
	data  []byte
	chunk int
}

func (c *trickleConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.chunk, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}
func (c *trickleConn) SetReadDeadline(time.Time) error { return nil }

func TestConnSplitReads(t *testing.T) {
	big := strings.Repeat("v", 200_000) // forces the read buffer to grow
	var stream strings.Builder
	var wants []Reply
	for _, tc := range parseCases {
		if tc.err == nil {
			stream.WriteString(tc.in)
			wants = append(wants, tc.want)
		}
	}
	stream.WriteString("VALUE big 0 200000\r\n" + big + "\r\nEND\r\n")
	wants = append(wants, ReplyGet)
	for _, chunk := range []int{1, 2, 3, 7, 64, 4096, 1 << 20} {
		c := NewConn(&trickleConn{data: []byte(stream.String()), chunk: chunk}, Options{ReadBufferSize: 16})
		var r Response
		i := 0
		for _, tc := range parseCases {
			if tc.err != nil {
				continue
			}
			if err := c.Next(tc.want, &r); err != nil {
				t.Fatalf("chunk %d, reply %s: %v", chunk, tc.name, err)
			}
			tc.check(t, &r)
			i++
		}
		if err := c.Next(ReplyGet, &r); err != nil || string(r.Value) != big {
			t.Fatalf("chunk %d: big value: %v (%d bytes)", chunk, err, len(r.Value))
		}
		if err := c.Next(ReplyGet, &r); !errors.Is(err, ErrConn) {
			t.Fatalf("chunk %d: after the stream: %v, want ErrConn", chunk, err)
		}
	}
}

func TestConnRoundTripAndTimeout(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	c := NewConn(client, Options{Timeout: 50 * time.Millisecond})
	go func() {
		buf := make([]byte, 64)
		n, _ := server.Read(buf)
		if string(buf[:n]) == "get a\r\nset b 0 0 1\r\nx\r\n" {
			server.Write([]byte("END\r\nSTORED\r\n"))
		}
		// Then go silent: the next Next must time out.
	}()
	c.Get([]byte("a"))
	c.Set([]byte("b"), 0, 0, []byte("x"))
	if _, err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	var r Response
	if err := c.Next(ReplyGet, &r); err != nil || r.Status != StatusMiss {
		t.Fatalf("get: %v %v", err, r.Status)
	}
	if err := c.Next(ReplyStore, &r); err != nil || r.Status != StatusStored {
		t.Fatalf("set: %v %v", err, r.Status)
	}
	if c.ReadAt() <= 0 {
		t.Errorf("ReadAt %d not stamped", c.ReadAt())
	}
	start := time.Now()
	if err := c.Next(ReplyGet, &r); !errors.Is(err, ErrTimeout) {
		t.Fatalf("silent server: %v, want ErrTimeout", err)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Errorf("timed out after %v, before the 50ms timeout", waited)
	}
	server.Close()
}

// loopConn replays the same reply forever, as an infinitely fast server.
type loopConn struct {
	net.Conn
	reply []byte
	pos   int
}

func (c *loopConn) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], c.reply[c.pos:])
		n += m
		c.pos = (c.pos + m) % len(c.reply)
	}
	return n, nil
}
func (c *loopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *loopConn) SetWriteDeadline(time.Time) error { return nil }

func benchmarkConn(b *testing.B, reply string, want Reply, issue func(c *Conn)) {
	c := NewConn(&loopConn{reply: []byte(reply)}, Options{})
	var r Response
	b.ReportAllocs()
	for b.Loop() {
		issue(c)
		if _, err := c.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := c.Next(want, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConnGetHit(b *testing.B) {
	key := []byte("key:12345")
	benchmarkConn(b, "VALUE key:12345 0 100\r\n"+strings.Repeat("x", 100)+"\r\nEND\r\n", ReplyGet,
		func(c *Conn) { c.Get(key) })
}

func BenchmarkConnSet(b *testing.B) {
	key, value := []byte("key:12345"), bytes.Repeat([]byte("x"), 100)
	benchmarkConn(b, "STORED\r\n", ReplyStore, func(c *Conn) { c.Set(key, 0, 0, value) })
}

func BenchmarkConnGetv(b *testing.B) {
	key := []byte("cart:1")
	benchmarkConn(b, "CONTEXT cart:1 2 AAEC\r\nSIBLING 0 3 0 17 live\r\n1,2\r\nSIBLING 0 1 0 18 live\r\n3\r\nEND\r\n",
		ReplyGetv, func(c *Conn) { c.Getv(key) })
}
