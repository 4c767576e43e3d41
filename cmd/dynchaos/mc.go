package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/dynamo-kv/dynamo/engine/check"
)

// mcConn is a deliberately plain memcached text-protocol client: one
// request at a time, every reply parsed strictly, so that what the harness
// records is exactly what the server said.
type mcConn struct {
	c       net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

// dialFunc opens a connection to a node (from inside the clients'
// network namespace).
type dialFunc func(ctx context.Context, addr string) (net.Conn, error)

func dialMC(ctx context.Context, dial dialFunc, addr string, timeout time.Duration) (*mcConn, error) {
	c, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &mcConn{c: c, r: bufio.NewReaderSize(c, 64<<10), timeout: timeout}, nil
}

func (m *mcConn) Close() error { return m.c.Close() }

// errProtocol marks a reply the client could not parse: the connection
// is then useless.
var errProtocol = errors.New("unexpected reply")

// serverError is a SERVER_ERROR or CLIENT_ERROR line, or any reply that
// says the request did not do what was asked.
type serverError struct{ line string }

func (e *serverError) Error() string { return e.line }

// outcomeOf classifies a write's error: nil is OK; a server error line
// is Failed unless it says the outcome is unknown; anything else
// (timeout, reset, unparseable reply) is Unknown.
func outcomeOf(err error) check.Outcome {
	var se *serverError
	switch {
	case err == nil:
		return check.OK
	case errors.As(err, &se) && !strings.Contains(se.line, "unknown"):
		return check.Failed
	}
	return check.Unknown
}

func (m *mcConn) send(req string) error {
	_ = m.c.SetDeadline(time.Now().Add(m.timeout))
	_, err := m.c.Write([]byte(req))
	return err
}

func (m *mcConn) line() (string, error) {
	s, err := m.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(s, "\r\n") {
		return "", fmt.Errorf("%w: %q", errProtocol, s)
	}
	return s[:len(s)-2], nil
}

func isErrorLine(l string) bool {
	return strings.HasPrefix(l, "SERVER_ERROR") || strings.HasPrefix(l, "CLIENT_ERROR") || l == "ERROR"
}

// simple sends req and expects one line; ok lists the replies that mean
// success, and any other non-error line is returned as the reply too.
func (m *mcConn) simple(req string) (string, error) {
	if err := m.send(req); err != nil {
		return "", err
	}
	l, err := m.line()
	if err != nil {
		return "", err
	}
	if isErrorLine(l) {
		return l, &serverError{l}
	}
	return l, nil
}

// store sends a storage command and returns its reply line (STORED,
// NOT_STORED, EXISTS, NOT_FOUND).
func (m *mcConn) store(cmd, key, value string, exptime int, cas uint64) (string, error) {
	req := fmt.Sprintf("%s %s 0 %d %d", cmd, key, exptime, len(value))
	if cmd == "cas" {
		req += " " + strconv.FormatUint(cas, 10)
	}
	return m.simple(req + "\r\n" + value + "\r\n")
}

func (m *mcConn) Set(key, value string, exptime int) error {
	l, err := m.store("set", key, value, exptime, 0)
	if err == nil && l != "STORED" {
		err = &serverError{l}
	}
	return err
}

func (m *mcConn) Delete(key string) (found bool, err error) {
	l, err := m.simple("delete " + key + "\r\n")
	switch {
	case err != nil:
		return false, err
	case l == "DELETED":
		return true, nil
	case l == "NOT_FOUND":
		return false, nil
	}
	return false, fmt.Errorf("%w: %q", errProtocol, l)
}

// Incr returns the new value; NOT_FOUND is a serverError.
func (m *mcConn) Incr(key string, delta uint64) (uint64, error) {
	l, err := m.simple(fmt.Sprintf("incr %s %d\r\n", key, delta))
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseUint(strings.TrimSpace(l), 10, 64)
	if perr != nil {
		return 0, &serverError{l}
	}
	return v, nil
}

func (m *mcConn) Touch(key string, exptime int) (string, error) {
	return m.simple(fmt.Sprintf("touch %s %d\r\n", key, exptime))
}

// value is one VALUE block of a get/gets reply.
type value struct {
	key  string
	data string
	cas  uint64
}

// retrieve sends a get or gets for keys and returns the values found.
func (m *mcConn) retrieve(cmd string, keys ...string) ([]value, error) {
	if err := m.send(cmd + " " + strings.Join(keys, " ") + "\r\n"); err != nil {
		return nil, err
	}
	var out []value
	for {
		l, err := m.line()
		if err != nil {
			return nil, err
		}
		if l == "END" {
			return out, nil
		}
		if isErrorLine(l) {
			return nil, &serverError{l}
		}
		f := strings.Fields(l)
		if len(f) < 4 || f[0] != "VALUE" {
			return nil, fmt.Errorf("%w: %q", errProtocol, l)
		}
		n, err := strconv.Atoi(f[3])
		if err != nil {
			return nil, fmt.Errorf("%w: %q", errProtocol, l)
		}
		v := value{key: f[1]}
		if len(f) > 4 {
			v.cas, _ = strconv.ParseUint(f[4], 10, 64)
		}
		data, err := m.block(n)
		if err != nil {
			return nil, err
		}
		v.data = data
		out = append(out, v)
	}
}

func (m *mcConn) block(n int) (string, error) {
	buf := make([]byte, n+2)
	if _, err := readFull(m.r, buf); err != nil {
		return "", err
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return "", fmt.Errorf("%w: data block without CRLF", errProtocol)
	}
	return string(buf[:n]), nil
}

func readFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (m *mcConn) Get(key string) (string, bool, error) {
	vs, err := m.retrieve("get", key)
	if err != nil || len(vs) == 0 {
		return "", false, err
	}
	return vs[0].data, true, nil
}

func (m *mcConn) Gets(key string) (string, uint64, bool, error) {
	vs, err := m.retrieve("gets", key)
	if err != nil || len(vs) == 0 {
		return "", 0, false, err
	}
	return vs[0].data, vs[0].cas, true, nil
}

// sibling is one version getv returned.
type sibling struct {
	data    string
	deleted bool
}

// Getv returns the key's context ("-" when it has no version) and its
// siblings.
func (m *mcConn) Getv(key string) (string, []sibling, error) {
	if err := m.send("getv " + key + "\r\n"); err != nil {
		return "", nil, err
	}
	ctx := "-"
	var sibs []sibling
	for {
		l, err := m.line()
		if err != nil {
			return "", nil, err
		}
		switch {
		case l == "END":
			return ctx, sibs, nil
		case isErrorLine(l):
			return "", nil, &serverError{l}
		case strings.HasPrefix(l, "CONTEXT "):
			f := strings.Fields(l)
			if len(f) != 4 {
				return "", nil, fmt.Errorf("%w: %q", errProtocol, l)
			}
			ctx = f[3]
		case strings.HasPrefix(l, "SIBLING "):
			f := strings.Fields(l)
			if len(f) != 6 {
				return "", nil, fmt.Errorf("%w: %q", errProtocol, l)
			}
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return "", nil, fmt.Errorf("%w: %q", errProtocol, l)
			}
			data, err := m.block(n)
			if err != nil {
				return "", nil, err
			}
			sibs = append(sibs, sibling{data: data, deleted: f[5] == "deleted"})
		default:
			return "", nil, fmt.Errorf("%w: %q", errProtocol, l)
		}
	}
}

// Putv writes value superseding ctx and returns the new context.
func (m *mcConn) Putv(key, value, ctx string) (string, error) {
	l, err := m.simple(fmt.Sprintf("putv %s 0 0 %d %s\r\n%s\r\n", key, len(value), ctx, value))
	if err != nil {
		return "", err
	}
	f := strings.Fields(l)
	if len(f) != 2 || f[0] != "STORED" {
		return "", &serverError{l}
	}
	return f[1], nil
}

// Admin sends "admin ARGS" and returns its STAT lines.
func (m *mcConn) Admin(args ...string) (map[string]string, error) {
	if err := m.send("admin " + strings.Join(args, " ") + "\r\n"); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for {
		l, err := m.line()
		if err != nil {
			return nil, err
		}
		switch {
		case l == "END":
			return out, nil
		case isErrorLine(l):
			return nil, &serverError{l}
		case strings.HasPrefix(l, "STAT "):
			name, val, _ := strings.Cut(l[5:], " ")
			out[name] = val
		default:
			return nil, fmt.Errorf("%w: %q", errProtocol, l)
		}
	}
}
