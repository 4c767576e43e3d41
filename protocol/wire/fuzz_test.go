package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
)

// fuzzSeeds are streams of valid and damaged frames.
func fuzzSeeds() [][]byte {
	echo := AppendFrame(nil, Header{Type: typeEcho, ID: 1}, []byte("hello"))
	two := AppendFrame(slices.Clone(echo), Header{Type: typeFail, ID: 2}, []byte("boom"))
	ping := AppendFrame(nil, Header{Type: TypePing, ID: 3}, nil)
	long := AppendFrame(nil, Header{Type: typeEcho, ID: 4}, bytes.Repeat([]byte("x"), 3000))
	bad := slices.Clone(echo)
	bad[len(bad)-1] ^= 1
	huge := slices.Clone(echo)
	binary.LittleEndian.PutUint32(huge[offLength:], 1<<31)
	return [][]byte{nil, echo, two, ping, long, bad, huge, echo[:HeaderSize+2], []byte("get foo\r\n")}
}

// FuzzFrameReader feeds arbitrary bytes to the frame decoder. It must never
// panic, and every frame it accepts must be exactly the bytes AppendFrame
// would produce for it: no non-canonical frame gets through.
func FuzzFrameReader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A 64-byte buffer sends most payloads down the large-frame path.
		r := newFrameReaderSize(bytes.NewReader(data), 4096, 64)
		off := 0
		for {
			h, err := r.readHeader()
			if err != nil {
				return
			}
			p, err := r.readPayload(h)
			if err != nil {
				return
			}
			want := AppendFrame(nil, h, p)
			end := off + len(want)
			if end > len(data) || !bytes.Equal(data[off:end], want) {
				t.Fatalf("accepted a frame at %d that does not re-encode to its bytes: %v", off, h)
			}
			off = end
		}
	})
}

// FuzzServeConn drives a server connection with arbitrary bytes. The server
// must not panic or hang, and its handler may only see requests that are
// valid frames of a served type, in the valid prefix of the stream.
func FuzzServeConn(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		valid := validRequests(data)
		var mu sync.Mutex
		var seen [][]byte
		h := HandlerFunc(func(_ context.Context, typ MsgType, payload, dst []byte) (MsgType, []byte, error) {
			mu.Lock()
			seen = append(seen, append([]byte{byte(typ)}, payload...))
			mu.Unlock()
			return typeEchoReply, append(dst, payload...), nil
		})
		srv, err := NewServer(h, ServerOptions{Types: NewTypeSet(typeEcho, typeFail), MaxPayload: 4096})
		if err != nil {
			t.Fatal(err)
		}
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			_ = srv.ServeConn(server)
			close(done)
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_, _ = client.Write(data)
		_ = client.Close()
		<-done
		for _, s := range seen {
			if !slices.ContainsFunc(valid, func(v []byte) bool { return bytes.Equal(v, s) }) {
				t.Fatalf("handler saw type %d payload %q, not a valid request of the input", s[0], s[1:])
			}
		}
	})
}

// validRequests returns type+payload of the request frames the server may
// serve: those before the first frame it must reject.
func validRequests(data []byte) [][]byte {
	var out [][]byte
	r := newFrameReaderSize(bytes.NewReader(data), 4096, 64)
	for {
		h, err := r.readHeader()
		if err != nil || h.Flags != 0 || (h.Type != typeEcho && h.Type != typeFail && h.Type != TypePing) {
			return out
		}
		p, err := r.readPayload(h)
		if err != nil {
			return out
		}
		out = append(out, append([]byte{byte(h.Type)}, p...))
	}
}

// FuzzDecoder runs a script of reads over arbitrary bytes: the decoder must
// never panic or read past the payload, and must latch its first error.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6}, AppendBytes(AppendUvarint(nil, 300), []byte("abc")))
	f.Add([]byte{5, 5, 5}, []byte{0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, script, payload []byte) {
		d := NewDecoder(payload)
		var firstErr error
		for _, op := range script {
			before := d.Remaining()
			switch op % 7 {
			case 0:
				d.Uvarint()
			case 1:
				d.Uint8()
			case 2:
				d.Uint16()
			case 3:
				d.Uint32()
			case 4:
				d.Uint64()
			case 5:
				if b := d.Bytes(); len(b) > before {
					t.Fatalf("Bytes returned %d bytes with %d left", len(b), before)
				}
			case 6:
				_ = d.Text()
			}
			if d.Remaining() < 0 || d.Remaining() > before {
				t.Fatalf("Remaining went from %d to %d", before, d.Remaining())
			}
			if firstErr == nil {
				firstErr = d.Err()
			} else if d.Err() != firstErr {
				t.Fatal("the first error was replaced")
			}
		}
	})
}
