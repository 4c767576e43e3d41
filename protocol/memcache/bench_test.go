package memcache

import (
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

func benchParse(b *testing.B, in string) {
	buf := []byte(in)
	p := NewParser(0)
	var cmd Command
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		rest := buf
		for len(rest) > 0 {
			n, err := p.Next(rest, &cmd)
			if err != nil || n == 0 || cmd.Op == OpError {
				b.Fatalf("parse failed: n=%d err=%v cmd=%s", n, err, describe(&cmd))
			}
			rest = rest[n:]
		}
	}
}

func BenchmarkParseGet(b *testing.B) { benchParse(b, "get user:12345678\r\n") }

func BenchmarkParseGetMulti(b *testing.B) {
	benchParse(b, "get user:1 user:2 user:3 user:4 user:5 user:6 user:7 user:8 user:9 user:10\r\n")
}

func BenchmarkParseSet(b *testing.B) {
	benchParse(b, "set user:12345678 0 3600 100\r\n"+strings.Repeat("v", 100)+"\r\n")
}

func BenchmarkParseMetaGet(b *testing.B) { benchParse(b, "mg user:12345678 v c f t k Oabc\r\n") }

func BenchmarkParseMetaSet(b *testing.B) {
	benchParse(b, "ms user:12345678 100 T3600 F5 c\r\n"+strings.Repeat("v", 100)+"\r\n")
}

// BenchmarkParsePipelined parses a batch of 100 pipelined gets and sets, as
// the server does per read; one op is one batch.
func BenchmarkParsePipelined(b *testing.B) {
	var sb strings.Builder
	for i := range 50 {
		sb.WriteString("get user:" + itoa(int64(i)) + "\r\n")
		sb.WriteString("set user:" + itoa(int64(i)) + " 0 0 32\r\n" + strings.Repeat("v", 32) + "\r\n")
	}
	buf := []byte(sb.String())
	p := NewParser(0)
	cmds := make([]Command, 100)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		rest := buf
		for i := range cmds {
			n, err := p.Next(rest, &cmds[i])
			if err != nil || n == 0 {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
	}
}

// stubKV answers every Get with one fixed value and accepts every Put,
// without allocating, so executor benchmarks measure the executor.
type stubKV struct{ value []byte }

func (s *stubKV) Get(_ []byte, o *kv.Object, _ kv.ReadOptions) error {
	o.Reset()
	o.Siblings = append(o.Siblings, kv.Sibling{Value: s.value, Flags: 3, Timestamp: 1})
	o.CAS = 77
	return nil
}

func (s *stubKV) Put([]byte, *kv.PutRequest) (kv.PutResult, error) {
	return kv.PutResult{CAS: 78}, nil
}

func (s *stubKV) FlushAll(time.Duration) error { return nil }
func (s *stubKV) Stats() []kv.Stat             { return nil }

func benchExecute(b *testing.B, in, value string) {
	kv := &stubKV{value: []byte(value)}
	now := time.Unix(1_700_000_000, 0)
	e := NewExecutor(kv, Options{Now: func() time.Time { return now }})
	var s Session
	p := NewParser(0)
	var cmd Command
	if _, err := p.Next([]byte(in), &cmd); err != nil || cmd.Op == OpError {
		b.Fatal(err, cmd.Err)
	}
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		out = e.Execute(&s, &cmd, out[:0])
	}
}

var value100 = strings.Repeat("v", 100)

func BenchmarkExecuteGet(b *testing.B) { benchExecute(b, "get user:12345678\r\n", value100) }

func BenchmarkExecuteMetaGet(b *testing.B) {
	benchExecute(b, "mg user:12345678 v c f t\r\n", value100)
}

func BenchmarkExecuteSet(b *testing.B) {
	benchExecute(b, "set user:12345678 0 3600 100\r\n"+value100+"\r\n", value100)
}

func BenchmarkExecuteIncr(b *testing.B) { benchExecute(b, "incr user:12345678 1\r\n", "12345") }
