package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
)

const (
	// readBufferSize is the connection read buffer. Payloads up to this size
	// are read in place, with no copy and no allocation.
	readBufferSize = 64 << 10
	// keepScratch is the largest scratch buffer a reader keeps for the next
	// large frame; bigger ones are left to the garbage collector.
	keepScratch = 1 << 20
)

// frameReader reads frames from a connection. It is owned by one goroutine.
type frameReader struct {
	br         *bufio.Reader
	maxPayload uint32
	hdr        [HeaderSize]byte
	scratch    []byte // payloads larger than the read buffer
}

func newFrameReader(r io.Reader, maxPayload int) *frameReader {
	return newFrameReaderSize(r, maxPayload, readBufferSize)
}

// newFrameReaderSize lets tests use a small buffer, to exercise large-frame
// reads with small frames.
func newFrameReaderSize(r io.Reader, maxPayload, bufferSize int) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, bufferSize), maxPayload: uint32(maxPayload)}
}

// readHeader reads and checks the next header. At a clean end of stream it
// returns io.EOF; a stream that ends inside a frame is io.ErrUnexpectedEOF.
func (r *frameReader) readHeader() (Header, error) {
	b, err := r.br.Peek(HeaderSize)
	if err != nil {
		if errors.Is(err, io.EOF) && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return Header{}, err
	}
	h, err := ParseHeader(b, r.maxPayload)
	if err != nil {
		return Header{}, err
	}
	copy(r.hdr[:], b)
	_, _ = r.br.Discard(HeaderSize) // cannot fail: the bytes are buffered
	return h, nil
}

// readPayload reads the payload of the frame whose header readHeader just
// returned and verifies the checksum. The result is valid until the next
// call on r. A large payload is read into a buffer grown as its bytes
// arrive, never allocated at its declared length up front, so a peer that
// declares a big frame and sends little costs little.
func (r *frameReader) readPayload(h Header) ([]byte, error) {
	n := int(h.Length)
	var p []byte
	if n <= r.br.Size() {
		var err error
		if p, err = r.br.Peek(n); err != nil {
			return nil, unexpected(err)
		}
		_, _ = r.br.Discard(n)
	} else {
		p = r.scratch[:0]
		for len(p) < n {
			chunk := min(n-len(p), max(len(p), readBufferSize))
			p = slices.Grow(p, chunk)[:len(p)+chunk]
			if _, err := io.ReadFull(r.br, p[len(p)-chunk:]); err != nil {
				return nil, unexpected(err)
			}
		}
		if cap(p) <= keepScratch {
			r.scratch = p[:0]
		}
	}
	if err := h.Verify(r.hdr[:], p); err != nil {
		return nil, err
	}
	return p, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w inside a frame", io.ErrUnexpectedEOF)
	}
	return err
}
