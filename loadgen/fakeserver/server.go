package fakeserver

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server.
type Options struct {
	// Null answers every request at once without storing anything: gets
	// and getvs miss, writes are STORED, deletes NOT_FOUND.
	Null bool
	// StallAfter and StallFor make the whole server stop replying for
	// StallFor once, StallAfter after the first request arrives.
	StallAfter time.Duration
	StallFor   time.Duration
	// ServiceTime is slept before answering each request, so that tests in
	// fake time (testing/synctest) see time pass. Default 0.
	ServiceTime time.Duration
	// CloseAfter, when positive, closes every connection after it has
	// read that many requests, without answering the last: clients see a
	// reset mid-request, as when a server crashes.
	CloseAfter int
}

// Server serves the protocol on any listener.
type Server struct {
	opts  Options
	first atomic.Int64 // unix nanos of the first request; 0 before
	// stallUntil is the unix nano time replies are held until; written once.
	stallUntil atomic.Int64
	stalled    atomic.Bool
	requests   atomic.Int64

	mu struct {
		sync.Mutex
		keys   map[string][]sibling
		nextID uint64
	}
	conns sync.WaitGroup
}

type sibling struct {
	id    uint64
	flags uint32
	value []byte
}

// New returns a server.
func New(opts Options) *Server {
	s := &Server{opts: opts}
	s.mu.keys = map[string][]sibling{}
	return s
}

// Requests is the number of requests served.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Serve accepts connections until l is closed, then waits for the
// connections' handlers to finish (they end when their peers close).
func (s *Server) Serve(l net.Listener) error {
	defer s.conns.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.conns.Go(func() { s.handle(c) })
	}
}

// ServeConn serves one established connection until it closes.
func (s *Server) ServeConn(c net.Conn) { s.handle(c) }

func (s *Server) handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	for served := 0; ; served++ {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		if s.opts.CloseAfter > 0 && served+1 == s.opts.CloseAfter {
			w.Flush()
			return
		}
		s.requests.Add(1)
		s.maybeStall()
		if s.opts.ServiceTime > 0 {
			time.Sleep(s.opts.ServiceTime)
		}
		if !s.serve(bytes.TrimRight(line, "\r\n"), r, w) {
			w.Flush()
			return
		}
		if r.Buffered() == 0 { // reply to a pipelined batch in one write
			if w.Flush() != nil {
				return
			}
		}
	}
}

func (s *Server) maybeStall() {
	if s.opts.StallFor <= 0 {
		return
	}
	now := time.Now().UnixNano()
	s.first.CompareAndSwap(0, now)
	if !s.stalled.Load() && now-s.first.Load() >= int64(s.opts.StallAfter) && s.stalled.CompareAndSwap(false, true) {
		s.stallUntil.Store(now + int64(s.opts.StallFor))
	}
	if until := s.stallUntil.Load(); now < until {
		time.Sleep(time.Duration(until - now))
	}
}

// serve answers one request line; false closes the connection.
func (s *Server) serve(line []byte, r *bufio.Reader, w *bufio.Writer) bool {
	f := bytes.Fields(line)
	if len(f) == 0 {
		w.WriteString("ERROR\r\n")
		return true
	}
	switch string(f[0]) {
	case "get":
		return s.get(f, w)
	case "set", "putv":
		return s.store(f, r, w)
	case "delete":
		return s.delete(f, w)
	case "getv":
		return s.getv(f, w)
	}
	w.WriteString("ERROR\r\n")
	return true
}

func (s *Server) get(f [][]byte, w *bufio.Writer) bool {
	if len(f) != 2 {
		w.WriteString("CLIENT_ERROR bad command line format\r\n")
		return true
	}
	if !s.opts.Null {
		s.mu.Lock()
		sibs := s.mu.keys[string(f[1])]
		if len(sibs) > 0 {
			win := sibs[len(sibs)-1] // the newest id wins
			w.WriteString("VALUE " + string(f[1]) + " " + strconv.FormatUint(uint64(win.flags), 10) + " " +
				strconv.Itoa(len(win.value)) + "\r\n")
			w.Write(win.value)
			w.WriteString("\r\n")
		}
		s.mu.Unlock()
	}
	w.WriteString("END\r\n")
	return true
}

// store handles "set k flags exp n" and "putv k flags exp n ctx".
func (s *Server) store(f [][]byte, r *bufio.Reader, w *bufio.Writer) bool {
	putv := string(f[0]) == "putv"
	if (!putv && len(f) != 5) || (putv && len(f) != 6) {
		w.WriteString("CLIENT_ERROR bad command line format\r\n")
		return false
	}
	flags, err1 := strconv.ParseUint(string(f[2]), 10, 32)
	n, err2 := strconv.Atoi(string(f[4]))
	if err1 != nil || err2 != nil || n < 0 || n > 1<<20 {
		w.WriteString("CLIENT_ERROR bad command line format\r\n")
		return false
	}
	data := make([]byte, n+2)
	if _, err := io.ReadFull(r, data); err != nil || !bytes.HasSuffix(data, []byte("\r\n")) {
		w.WriteString("CLIENT_ERROR bad data chunk\r\n")
		return false
	}
	if s.opts.Null {
		if putv {
			w.WriteString("STORED -\r\n")
		} else {
			w.WriteString("STORED\r\n")
		}
		return true
	}
	var superseded []uint64
	if putv {
		superseded = decodeContext(f[5])
	}
	ctx := s.write(string(f[1]), uint32(flags), data[:n], putv, superseded)
	if putv {
		w.WriteString("STORED " + ctx + "\r\n")
	} else {
		w.WriteString("STORED\r\n")
	}
	return true
}

// write adds a sibling; a set supersedes everything, a putv only the ids
// its context names. It returns the context naming the new sibling.
func (s *Server) write(key string, flags uint32, value []byte, versioned bool, superseded []uint64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.nextID++
	kept := s.mu.keys[key][:0:0]
	if versioned {
		for _, sib := range s.mu.keys[key] {
			if !slices.Contains(superseded, sib.id) {
				kept = append(kept, sib)
			}
		}
	}
	s.mu.keys[key] = append(kept, sibling{id: s.mu.nextID, flags: flags, value: value})
	return encodeContext([]uint64{s.mu.nextID})
}

func (s *Server) delete(f [][]byte, w *bufio.Writer) bool {
	if len(f) != 2 {
		w.WriteString("CLIENT_ERROR bad command line format\r\n")
		return true
	}
	s.mu.Lock()
	_, ok := s.mu.keys[string(f[1])]
	delete(s.mu.keys, string(f[1]))
	s.mu.Unlock()
	if ok {
		w.WriteString("DELETED\r\n")
	} else {
		w.WriteString("NOT_FOUND\r\n")
	}
	return true
}

func (s *Server) getv(f [][]byte, w *bufio.Writer) bool {
	if len(f) != 2 {
		w.WriteString("CLIENT_ERROR bad command line format\r\n")
		return true
	}
	s.mu.Lock()
	sibs := s.mu.keys[string(f[1])]
	if len(sibs) > 0 && !s.opts.Null {
		ids := make([]uint64, len(sibs))
		for i, sib := range sibs {
			ids[i] = sib.id
		}
		w.WriteString("CONTEXT " + string(f[1]) + " " + strconv.Itoa(len(sibs)) + " " + encodeContext(ids) + "\r\n")
		for _, sib := range sibs {
			w.WriteString("SIBLING " + strconv.FormatUint(uint64(sib.flags), 10) + " " + strconv.Itoa(len(sib.value)) +
				" 0 " + strconv.FormatUint(sib.id, 10) + " live\r\n")
			w.Write(sib.value)
			w.WriteString("\r\n")
		}
	}
	s.mu.Unlock()
	w.WriteString("END\r\n")
	return true
}

func encodeContext(ids []uint64) string {
	buf := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		buf = binary.BigEndian.AppendUint64(buf, id)
	}
	return base64.StdEncoding.EncodeToString(buf)
}

func decodeContext(b []byte) []uint64 {
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return nil // "-" or garbage: supersedes nothing
	}
	var ids []uint64
	for len(raw) >= 8 {
		ids = append(ids, binary.BigEndian.Uint64(raw))
		raw = raw[8:]
	}
	return ids
}

// Listen starts a server on a free 127.0.0.1 port and returns its address
// and a function that stops it.
func Listen(opts Options) (addr string, srv *Server, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	srv = New(opts)
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	return l.Addr().String(), srv, func() { l.Close(); <-done }, nil
}
