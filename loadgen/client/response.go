package client

import (
	"bytes"
	"errors"
	"fmt"
)

// Errors of the response parser. Both can be wrapped; test with errors.Is.
var (
	// ErrIncomplete means the buffer does not yet hold a whole response.
	ErrIncomplete = errors.New("client: incomplete response")
	// ErrProtocol means the bytes are not a valid reply of the expected
	// shape; the connection cannot be resynchronised and must be closed.
	ErrProtocol = errors.New("client: protocol error")
)

// Limits that keep a broken or hostile peer from growing buffers unboundedly.
const (
	// MaxLineLength bounds a reply line (header or error text).
	MaxLineLength = 64 << 10
	// MaxValueLength bounds one value or sibling.
	MaxValueLength = 64 << 20
	// MaxSiblings bounds the siblings of one getv reply.
	MaxSiblings = 1 << 16
)

// Reply names the shape of reply the caller expects next.
type Reply uint8

// The reply shapes, one per request kind.
const (
	ReplyGet    Reply = iota // VALUE ... END or END
	ReplyStore               // STORED, NOT_STORED, EXISTS, NOT_FOUND
	ReplyDelete              // DELETED, NOT_FOUND
	ReplyGetv                // [CONTEXT + SIBLING blocks] END
	ReplyPutv                // STORED <context>
)

// Status is what a reply said.
type Status uint8

// Reply statuses. The last three are error replies.
const (
	StatusHit Status = iota
	StatusMiss
	StatusStored
	StatusNotStored
	StatusExists
	StatusNotFound
	StatusDeleted
	StatusError       // "ERROR": the server did not understand the command
	StatusClientError // "CLIENT_ERROR <message>"
	StatusServerError // "SERVER_ERROR <message>"
)

var statusNames = [...]string{"hit", "miss", "stored", "not_stored", "exists", "not_found", "deleted",
	"error", "client_error", "server_error"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", s)
}

// IsError reports an ERROR, CLIENT_ERROR or SERVER_ERROR reply.
func (s Status) IsError() bool { return s >= StatusError }

// Sibling is one version in a getv reply.
type Sibling struct {
	Flags     uint32
	Exptime   int64
	Timestamp uint64
	Deleted   bool
	Value     []byte // aliases the parse buffer
}

// Response is a parsed reply. Its slices alias the buffer given to Parse and
// are valid only until that buffer is reused; Parse reuses Siblings' backing
// array across calls.
type Response struct {
	Status   Status
	Flags    uint32
	CAS      uint64
	Value    []byte    // get hit
	Context  []byte    // getv (empty when the key has no version) and putv
	Siblings []Sibling // getv
	Message  []byte    // text of an error reply
}

func (r *Response) reset() {
	*r = Response{Siblings: r.Siblings[:0]}
}

// Parse parses one reply of the expected shape from the start of buf. It
// returns the number of bytes the reply occupies; on ErrIncomplete nothing is
// consumed and the caller should read more and call again with the extended
// buffer. Any other error is fatal for the stream.
func Parse(buf []byte, want Reply, r *Response) (int, error) {
	r.reset()
	line, next, err := readLine(buf, 0)
	if err != nil {
		return 0, err
	}
	if parseErrorLine(line, r) {
		return next, nil
	}
	p := parser{buf: buf, r: r}
	switch want {
	case ReplyGet:
		return p.get(line, next)
	case ReplyStore:
		return storeStatus(line, r, next)
	case ReplyDelete:
		return deleteStatus(line, r, next)
	case ReplyGetv:
		return p.getv(line, next)
	case ReplyPutv:
		return putvStatus(line, r, next)
	}
	return 0, fmt.Errorf("%w: unknown reply shape %d", ErrProtocol, want)
}

// readLine returns the line starting at off without its "\r\n" and the
// offset just past it.
func readLine(buf []byte, off int) (line []byte, next int, err error) {
	rest := buf[off:]
	i := bytes.IndexByte(rest[:min(len(rest), MaxLineLength)], '\n')
	if i < 0 {
		if len(rest) >= MaxLineLength {
			return nil, 0, fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, MaxLineLength)
		}
		return nil, 0, ErrIncomplete
	}
	if i == 0 || rest[i-1] != '\r' {
		return nil, 0, fmt.Errorf("%w: line not terminated by CRLF", ErrProtocol)
	}
	return rest[:i-1], off + i + 1, nil
}

// parseErrorLine recognises the error replies any command may receive.
func parseErrorLine(line []byte, r *Response) bool {
	for _, e := range [...]struct {
		prefix string
		status Status
	}{{"ERROR", StatusError}, {"CLIENT_ERROR", StatusClientError}, {"SERVER_ERROR", StatusServerError}} {
		if !bytes.HasPrefix(line, []byte(e.prefix)) {
			continue
		}
		rest := line[len(e.prefix):]
		if len(rest) > 0 && rest[0] != ' ' {
			continue
		}
		r.Status = e.status
		r.Message = bytes.TrimPrefix(rest, []byte(" "))
		return true
	}
	return false
}

func storeStatus(line []byte, r *Response, next int) (int, error) {
	switch string(line) {
	case "STORED":
		r.Status = StatusStored
	case "NOT_STORED":
		r.Status = StatusNotStored
	case "EXISTS":
		r.Status = StatusExists
	case "NOT_FOUND":
		r.Status = StatusNotFound
	default:
		return 0, unexpected("storage", line)
	}
	return next, nil
}

func deleteStatus(line []byte, r *Response, next int) (int, error) {
	switch string(line) {
	case "DELETED":
		r.Status = StatusDeleted
	case "NOT_FOUND":
		r.Status = StatusNotFound
	default:
		return 0, unexpected("delete", line)
	}
	return next, nil
}

func putvStatus(line []byte, r *Response, next int) (int, error) {
	var f fields
	f.split(line)
	switch {
	case f.n == 2 && string(f.at(0)) == "STORED":
		r.Status, r.Context = StatusStored, f.at(1)
	case f.n == 1 && string(f.at(0)) == "NOT_STORED":
		r.Status = StatusNotStored
	default:
		return 0, unexpected("putv", line)
	}
	return next, nil
}

func unexpected(what string, line []byte) error {
	if len(line) > 64 {
		line = line[:64]
	}
	return fmt.Errorf("%w: unexpected %s reply %q", ErrProtocol, what, line)
}
