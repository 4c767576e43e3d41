package memcache

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// describe renders the parts of a command a test cares about.
func describe(c *Command) string {
	var b strings.Builder
	b.WriteString(c.Op.String())
	if c.Err != "" {
		fmt.Fprintf(&b, " err=%q", c.Err)
	}
	if c.Op == OpError {
		return b.String()
	}
	if c.TooLarge {
		b.WriteString(" toolarge")
	}
	if c.NoReply {
		b.WriteString(" noreply")
	}
	if len(c.Keys) > 1 {
		fmt.Fprintf(&b, " keys=%q", c.Keys)
	} else if c.Key != nil {
		fmt.Fprintf(&b, " key=%q", c.Key)
	}
	if c.Flags != 0 {
		fmt.Fprintf(&b, " flags=%d", c.Flags)
	}
	if c.Exptime != 0 {
		fmt.Fprintf(&b, " exp=%d", c.Exptime)
	}
	if c.CAS != 0 {
		fmt.Fprintf(&b, " cas=%d", c.CAS)
	}
	if c.Op == OpIncr || c.Op == OpDecr {
		fmt.Fprintf(&b, " delta=%d", c.Delta)
	}
	if c.Data != nil {
		fmt.Fprintf(&b, " data=%q", c.Data)
	}
	if c.Context != nil {
		fmt.Fprintf(&b, " ctx=%q", c.Context)
	}
	if c.Arg != nil {
		fmt.Fprintf(&b, " arg=%q", c.Arg)
	}
	if len(c.Meta.Tokens) > 0 {
		fmt.Fprintf(&b, " flags=%q", c.Meta.Tokens)
	}
	return b.String()
}

// parseAll parses every complete command of in and reports the bytes left.
func parseAll(p *Parser, in []byte) (cmds []string, rest int, err error) {
	var cmd Command
	for {
		n, err := p.Next(in, &cmd)
		if err != nil {
			return cmds, len(in), err
		}
		if n == 0 {
			return cmds, len(in), nil
		}
		if cmd.Op != OpNone {
			cmds = append(cmds, describe(&cmd))
		}
		in = in[n:]
	}
}

func TestParser(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		rest int
		err  error
	}{
		{"get", "get a\r\n", []string{`get key="a"`}, 0, nil},
		{"get_multi", "gets a  b c\r\n", []string{`gets keys=["a" "b" "c"]`}, 0, nil},
		{"get_no_key", "get\r\n", []string{`error err="ERROR"`}, 0, nil},
		{"gat", "gat 30 a b\r\n", []string{`gat keys=["a" "b"] exp=30`}, 0, nil},
		{"gat_bad_exptime", "gats x a\r\n", []string{`error err="CLIENT_ERROR invalid exptime argument"`}, 0, nil},
		{"get_key_too_long", "get a " + strings.Repeat("k", 251) + "\r\n", []string{`error err="CLIENT_ERROR bad command line format"`}, 0, nil},
		{"incomplete_line", "get a", nil, 5, nil},
		{"set", "set a 1 2 3\r\nabc\r\n", []string{`set key="a" flags=1 exp=2 data="abc"`}, 0, nil},
		{"set_noreply", "set a 0 0 1 noreply\r\nx\r\n", []string{`set noreply key="a" data="x"`}, 0, nil},
		{"set_incomplete_data", "set a 0 0 3\r\nab", nil, 15, nil},
		{"set_incomplete_crlf", "set a 0 0 2\r\nab\r", nil, 16, nil},
		{"bad_chunk", "set a 0 0 1\r\nxyz\r\n", []string{`set err="CLIENT_ERROR bad data chunk" key="a"`, `error err="ERROR"`}, 0, nil},
		{"cas", "cas a 0 0 1 99\r\nx\r\n", []string{`cas key="a" cas=99 data="x"`}, 0, nil},
		{"cas_missing_unique", "cas a 0 0 1\r\nx\r\n", []string{`error err="ERROR"`, `error err="ERROR"`}, 0, nil},
		{"flags_wrap", "set a 4294967297 0 1\r\nx\r\n", []string{`set key="a" flags=1 data="x"`}, 0, nil},
		{"length_truncated", "set a 0 0 4294967297\r\nx\r\n", []string{`set key="a" data="x"`}, 0, nil},
		{"negative_length", "set a 0 0 -1\r\n", []string{`error err="CLIENT_ERROR bad command line format"`}, 0, nil},
		{"too_large_swallows", "set a 0 0 2000000\r\n" + strings.Repeat("v", 10), []string{`set err="SERVER_ERROR object too large for cache" toolarge key="a"`}, 0, nil},
		{"incr", "incr n 5\r\ndecr n 18446744073709551615 noreply\r\n", []string{`incr key="n" delta=5`, `decr noreply key="n" delta=18446744073709551615`}, 0, nil},
		{"incr_bad_delta", "incr n -1\r\n", []string{`error err="CLIENT_ERROR invalid numeric delta argument"`}, 0, nil},
		{"delete_forms", "delete a\r\ndelete a 0\r\ndelete a noreply\r\ndelete a 1\r\n", []string{`delete key="a"`, `delete key="a"`, `delete noreply key="a"`, `error err="CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"`}, 0, nil},
		{"touch", "touch a 10\r\n", []string{`touch key="a" exp=10`}, 0, nil},
		{"flush_all", "flush_all\r\nflush_all 10 noreply\r\nflush_all x\r\n", []string{`flush_all`, `flush_all noreply exp=10`, `flush_all err="CLIENT_ERROR invalid exptime argument"`}, 0, nil},
		{"stats", "stats\r\nstats settings\r\n", []string{`stats`, `stats arg="settings"`}, 0, nil},
		{"quit", "quit\r\n", []string{`quit`}, 0, nil},
		{"http", "GET / HTTP/1.0\r\n", []string{`close`}, 0, nil},
		{"unknown", "frobnicate\r\nx\r\n\r\n", []string{`error err="ERROR"`, `error err="ERROR"`, `error err="ERROR"`}, 0, nil},
		{"nul_truncates_line", "get a\x00b c\r\n", []string{`get key="a"`}, 0, nil},
		{"line_too_long", strings.Repeat("x", 2049), nil, 2049, ErrLineTooLong},
		{"long_get_line_waits", "get " + strings.Repeat("k ", 2000), nil, 4004, nil},
		{"spaces_then_long_get", strings.Repeat(" ", 101) + "get " + strings.Repeat("k", 3000), nil, 3105, ErrLineTooLong},
		{"mg", "mg a v k Oxyz t\r\n", []string{`mg key="a" flags=["v" "k" "Oxyz" "t"]`}, 0, nil},
		{"mg_dup", "mg a v v\r\n", []string{`error err="CLIENT_ERROR duplicate flag"`}, 0, nil},
		{"mg_access_flags", "mg a h l u\r\n", []string{`mg key="a" flags=["h" "l" "u"]`}, 0, nil},
		{"mg_unsupported_E", "mg a E5\r\n", []string{`error err="CLIENT_ERROR invalid flag"`}, 0, nil},
		{"ms", "ms a 2 T5 F3 MA C7 q\r\nhi\r\n", []string{`ms key="a" data="hi" flags=["T5" "F3" "MA" "C7" "q"]`}, 0, nil},
		{"ms_bad_mode_swallows", "ms a 2 MZ\r\nhi\r\nmn\r\n", []string{`error err="CLIENT_ERROR invalid mode for ms M token"`, `mn`}, 0, nil},
		{"ms_bad_length", "ms a x\r\nhi\r\n", []string{`error err="CLIENT_ERROR bad command line format"`, `error err="ERROR"`}, 0, nil},
		{"md_flags", "md a q C5 XZg== Ds\r\n", []string{`md key="a" flags=["q" "C5" "XZg==" "Ds"]`}, 0, nil},
		{"md_bad_context", "md a X!!!!\r\n", []string{`error err="CLIENT_ERROR bad context"`}, 0, nil},
		{"ma_mode", "ma a MD D3\r\nma a MQ\r\n", []string{`ma key="a" flags=["MD" "D3"]`, `error err="CLIENT_ERROR invalid mode for ma M token"`}, 0, nil},
		{"me", "me a\r\nme\r\n", []string{`me key="a"`, `error err="CLIENT_ERROR bad command line format"`}, 0, nil},
		{"getv", "getv a b\r\n", []string{`getv keys=["a" "b"]`}, 0, nil},
		{"putv", "putv a 1 0 2 -\r\nhi\r\nputv a 1 0 2 Zm9v noreply\r\nhi\r\n", []string{`putv key="a" flags=1 data="hi" ctx="-"`, `putv noreply key="a" flags=1 data="hi" ctx="Zm9v"`}, 0, nil},
		{"putv_bad_context_swallows", "putv a 0 0 2 !!\r\nhi\r\nmn\r\n", []string{`error err="CLIENT_ERROR bad context"`, `mn`}, 0, nil},
		{"delv", "delv a Zm9v\r\ndelv a\r\n", []string{`delv key="a" ctx="Zm9v"`, `error err="ERROR"`}, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewParser(0)
			got, rest, err := parseAll(p, []byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if rest != tc.rest {
				t.Errorf("unconsumed = %d, want %d", rest, tc.rest)
			}
		})
	}
}

func TestParserSwallowsAcrossCalls(t *testing.T) {
	p := NewParser(1024)
	var cmd Command
	n, err := p.Next([]byte("set a 0 0 5000\r\nvvvv"), &cmd)
	if err != nil || n != 16 || !cmd.TooLarge {
		t.Fatalf("n=%d err=%v cmd=%s", n, err, describe(&cmd))
	}
	if !p.Swallowing() {
		t.Fatal("parser should be discarding the data block")
	}
	remaining := 5002
	for remaining > 0 {
		chunk := []byte(strings.Repeat("v", min(remaining, 700)))
		n, err := p.Next(chunk, &cmd)
		if err != nil || n != len(chunk) || cmd.Op != OpNone {
			t.Fatalf("swallow step: n=%d err=%v op=%v", n, err, cmd.Op)
		}
		remaining -= n
	}
	if p.Swallowing() {
		t.Fatal("swallow should be complete")
	}
	if _, err := p.Next([]byte("get a\r\n"), &cmd); err != nil || cmd.Op != OpGet {
		t.Fatalf("after swallow: %v %s", err, describe(&cmd))
	}
}

func TestMetaFlagValues(t *testing.T) {
	p := NewParser(0)
	var cmd Command
	in := "ms Zm9v 2 b T-1 N30 R5 F7 C9 MA J3 I q v Dw XAQI=\r\nhi\r\n"
	if _, err := p.Next([]byte(in), &cmd); err != nil || cmd.Err != "" {
		t.Fatalf("%v %s", err, describe(&cmd))
	}
	m := cmd.Meta
	want := MetaFlags{
		Base64Key: true, Quiet: true, Value: true, Invalidate: true, Mode: 'A',
		HasCAS: true, CAS: 9, HasTTL: true, TTL: -1, Vivify: true, VivifyTTL: 30,
		HasRecache: true, RecacheTTL: 5, Flags: 7, Delta: 1, Initial: 3,
		HasContext: true, Context: []byte("AQI="), Durability: kv.WAL,
	}
	m.Tokens, want.Tokens = nil, nil
	if fmt.Sprintf("%+v", m) != fmt.Sprintf("%+v", want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
}

func TestRebase(t *testing.T) {
	src := []byte("xxget a b\r\nms k 2 Oq\r\nhi\r\n")
	p := NewParser(0)
	var cmds [2]Command
	off := 2
	for i := range cmds {
		n, err := p.Next(src[off:], &cmds[i])
		if err != nil || n == 0 {
			t.Fatal(n, err)
		}
		off += n
	}
	dst := append([]byte(nil), src[:off]...)
	for i := range cmds {
		cmds[i].Rebase(src, dst)
	}
	for i := range src {
		src[i] = '#' // the copy must not depend on the source any more
	}
	got := describe(&cmds[0]) + " | " + describe(&cmds[1])
	want := `get keys=["a" "b"] | ms key="k" data="hi" flags=["Oq"]`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestNumbers(t *testing.T) {
	i32 := []struct {
		in   string
		want int32
		ok   bool
	}{
		{"0", 0, true}, {"-1", -1, true}, {"+5", 5, true}, {" 7", 7, true}, {"\t8", 8, true},
		{"9\t", 9, true}, {"4294967297", 1, true}, {"2147483648", -2147483648, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775808", 0, true},
		{"", 0, false}, {"-", 0, false}, {"1x", 0, false}, {"x", 0, false}, {"0x10", 0, false},
	}
	for _, tc := range i32 {
		if got, ok := parseInt32([]byte(tc.in)); got != tc.want || ok != tc.ok {
			t.Errorf("parseInt32(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	u64 := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"18446744073709551615", 1<<64 - 1, true}, {"18446744073709551616", 0, false},
		{"-1", 0, false}, {"-0", 0, true}, {"-18446744073709551615", 1, true},
		{"12 ", 12, true}, {"12\x00junk", 12, true}, {"\x0012", 0, false},
	}
	for _, tc := range u64 {
		if got, ok := parseUint64([]byte(tc.in)); got != tc.want || ok != tc.ok {
			t.Errorf("parseUint64(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := parseUint32([]byte("4294967296")); got != 0 || !ok {
		t.Errorf("parseUint32 wrap = %d, %v", got, ok)
	}
}

func TestDecodeKey(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Zm9v", "foo", true},
		{"Zg==", "f", true},
		{"Zm8=", "fo", true},
		{"Zm9vYmFy", "foobar", true},
		{"Zm9v!YmFy", "foobar", true}, // characters outside the alphabet are skipped
		{"Zg==Zm9v", "f", true},       // decoding stops after a padded block
		{"Zm9", "", false},
		{"====", "", false},
		{"A===", "", false},
		{"!!!!", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := decodeKey(nil, []byte(tc.in))
		if string(got) != tc.want || ok != tc.ok {
			t.Errorf("decodeKey(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
