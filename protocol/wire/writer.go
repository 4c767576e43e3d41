package wire

import (
	"bufio"
	"net"
	"runtime"
	"sync"
	"time"
)

const (
	// writeBufferSize is the connection write buffer: frames queued while
	// the writer was busy are coalesced into writes of up to this size.
	writeBufferSize = 64 << 10
	// sendQueueLen bounds the frames waiting for a connection's writer;
	// beyond it senders block (backpressure).
	sendQueueLen = 256
	// pooledBufferSize is the capacity of a fresh pooled buffer; buffers
	// that grew past maxPooledBuffer are not returned to the pool.
	pooledBufferSize = 4 << 10
	maxPooledBuffer  = 256 << 10
)

// buffer is a pooled byte slice; pooling the pointer keeps Put allocation-free.
type buffer struct{ b []byte }

var bufferPool = sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, pooledBufferSize)} }}

func getBuffer() *buffer { return bufferPool.Get().(*buffer) }

func putBuffer(b *buffer) {
	if cap(b.b) > maxPooledBuffer {
		return
	}
	b.b = b.b[:0]
	bufferPool.Put(b)
}

// frameWriter owns the write side of a connection. Senders hand it encoded
// frames; its goroutine copies every frame queued so far into one buffer and
// flushes when the queue is empty, so concurrent small messages share one
// write syscall. A lone frame goes out once the goroutines already
// runnable have had their turn (one yield), which is when its peers queue.
type frameWriter struct {
	nc      net.Conn
	bw      *bufio.Writer
	queue   chan *buffer
	timeout time.Duration // per flush; 0 means none
	done    chan struct{} // closed when run returns
	err     error         // why run returned; read after done is closed
}

func newFrameWriter(nc net.Conn, timeout time.Duration) *frameWriter {
	return &frameWriter{
		nc:      nc,
		bw:      bufio.NewWriterSize(nc, writeBufferSize),
		queue:   make(chan *buffer, sendQueueLen),
		timeout: timeout,
		done:    make(chan struct{}),
	}
}

// send queues frame for writing and takes ownership of it. It fails if the
// writer has stopped or cancel is closed first.
func (w *frameWriter) send(frame *buffer, cancel <-chan struct{}) bool {
	select {
	case w.queue <- frame:
		return true
	case <-w.done:
	case <-cancel:
	}
	putBuffer(frame)
	return false
}

// run writes queued frames until stop is closed, the queue is closed (after
// writing what it held) or a write fails. onError is called with a write
// error before done is closed.
func (w *frameWriter) run(stop <-chan struct{}, onError func(error)) {
	defer close(w.done)
	for {
		var frame *buffer
		var open bool
		select {
		case frame, open = <-w.queue:
		case <-stop:
			return
		}
		if !open {
			return
		}
		if w.timeout > 0 {
			_ = w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
		}
		if len(w.queue) == 0 {
			// Let the senders that are runnable queue their frames first:
			// woken at once by the first frame, the writer would send each
			// in a write of its own. On a 3-node cluster this took write
			// syscalls from 4.7 to 2.8 per request at pipeline 1 and from
			// 2.5 to 0.4 at pipeline 16 (docs/performance.md).
			runtime.Gosched()
		}
		open = w.writeQueued(frame)
		if err := w.bw.Flush(); err != nil {
			w.err = err
			onError(err)
			return
		}
		if !open {
			return
		}
	}
}

// writeQueued buffers frame and the frames already queued behind it, up to
// about one buffer's worth so that each batch gets a fresh write deadline.
// It returns false if it found the queue closed.
func (w *frameWriter) writeQueued(frame *buffer) bool {
	for written := 0; ; {
		n, err := w.bw.Write(frame.b)
		putBuffer(frame)
		if err != nil {
			return true // the error is sticky: Flush returns it
		}
		if written += n; written >= writeBufferSize {
			return true
		}
		select {
		case f, open := <-w.queue:
			if !open {
				return false
			}
			frame = f
		default:
			return true
		}
	}
}
