package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

func TestReaderSplitsAnywhere(t *testing.T) {
	payloads := [][]byte{nil, []byte("a"), bytes.Repeat([]byte("m"), readBufferSize), bytes.Repeat([]byte("L"), 3*readBufferSize+17), []byte("end")}
	var stream []byte
	for i, p := range payloads {
		stream = AppendFrame(stream, Header{Type: MsgType(i + 1), ID: uint64(i)}, p)
	}
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"halves":   iotest.HalfReader,
	} {
		t.Run(name, func(t *testing.T) {
			r := newFrameReader(wrap(bytes.NewReader(stream)), DefaultMaxPayload)
			for i, want := range payloads {
				h, err := r.readHeader()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				p, err := r.readPayload(h)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if h.ID != uint64(i) || !bytes.Equal(p, want) {
					t.Fatalf("frame %d: id %d, %d bytes", i, h.ID, len(p))
				}
			}
			if _, err := r.readHeader(); err != io.EOF {
				t.Fatalf("after the last frame: %v", err)
			}
		})
	}
}

func TestReaderTruncatedStream(t *testing.T) {
	frame := AppendFrame(nil, Header{Type: 1}, []byte("payload"))
	for _, cut := range []int{1, HeaderSize - 1, HeaderSize, len(frame) - 1} {
		r := newFrameReader(bytes.NewReader(frame[:cut]), DefaultMaxPayload)
		h, err := r.readHeader()
		if err == nil {
			_, err = r.readPayload(h)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
}

func TestReaderRejectsCorruptPayload(t *testing.T) {
	frame := AppendFrame(nil, Header{Type: 1}, bytes.Repeat([]byte("x"), 2*readBufferSize))
	frame[len(frame)-1] ^= 1
	r := newFrameReader(bytes.NewReader(frame), DefaultMaxPayload)
	h, err := r.readHeader()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.readPayload(h); !errors.Is(err, ErrChecksum) {
		t.Fatalf("got %v", err)
	}
}

// A frame that declares a large payload but delivers little must cost
// memory in proportion to what arrived, not to what was declared.
func TestReaderDoesNotTrustDeclaredLength(t *testing.T) {
	const declared = DefaultMaxPayload
	hdr := AppendFrame(nil, Header{Type: 1}, nil)
	binary.LittleEndian.PutUint32(hdr[offLength:], declared)
	stream := append(hdr, bytes.Repeat([]byte("z"), 1000)...)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := newFrameReader(bytes.NewReader(stream), DefaultMaxPayload)
	h, err := r.readHeader()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.readPayload(h); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > declared/4 {
		t.Fatalf("allocated %d bytes for a frame declaring %d and delivering 1000", grew, declared)
	}
}
