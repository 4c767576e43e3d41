package client

import "fmt"

// parser walks the value-bearing replies (get, getv).
type parser struct {
	buf []byte
	r   *Response
}

// get parses "END" or "VALUE <key> <flags> <bytes> [<cas>]" + data + "END".
func (p *parser) get(line []byte, next int) (int, error) {
	if string(line) == "END" {
		p.r.Status = StatusMiss
		return next, nil
	}
	var f fields
	f.split(line)
	if f.n < 4 || f.n > 5 || string(f.at(0)) != "VALUE" {
		return 0, unexpected("get", line)
	}
	flags, ok1 := parseUint(f.at(2), 32)
	size, ok2 := parseUint(f.at(3), 31)
	cas, ok3 := uint64(0), true
	if f.n == 5 {
		cas, ok3 = parseUint(f.at(4), 64)
	}
	if !ok1 || !ok2 || !ok3 {
		return 0, unexpected("get", line)
	}
	value, next, err := p.data(next, size)
	if err != nil {
		return 0, err
	}
	end, next, err := readLine(p.buf, next)
	if err != nil {
		return 0, err
	}
	if string(end) != "END" {
		return 0, unexpected("get terminator", end)
	}
	p.r.Status, p.r.Flags, p.r.CAS, p.r.Value = StatusHit, uint32(flags), cas, value
	return next, nil
}

// getv parses "END" or "CONTEXT <key> <n> <context>" + n sibling blocks + "END".
func (p *parser) getv(line []byte, next int) (int, error) {
	if string(line) == "END" {
		p.r.Status = StatusMiss
		return next, nil
	}
	var f fields
	f.split(line)
	if f.n != 4 || string(f.at(0)) != "CONTEXT" {
		return 0, unexpected("getv", line)
	}
	count, ok := parseUint(f.at(2), 31)
	if !ok || count > MaxSiblings {
		return 0, unexpected("getv sibling count", line)
	}
	p.r.Context = f.at(3)
	if string(p.r.Context) == "-" {
		p.r.Context = nil
	}
	for range count {
		var err error
		if next, err = p.sibling(next); err != nil {
			return 0, err
		}
	}
	end, next, err := readLine(p.buf, next)
	if err != nil {
		return 0, err
	}
	if string(end) != "END" {
		return 0, unexpected("getv terminator", end)
	}
	p.r.Status = StatusHit
	return next, nil
}

// sibling parses "SIBLING <flags> <bytes> <exptime> <timestamp> <live|deleted>" + data.
func (p *parser) sibling(off int) (int, error) {
	line, next, err := readLine(p.buf, off)
	if err != nil {
		return 0, err
	}
	var f fields
	f.split(line)
	if f.n != 6 || string(f.at(0)) != "SIBLING" {
		return 0, unexpected("sibling", line)
	}
	flags, ok1 := parseUint(f.at(1), 32)
	size, ok2 := parseUint(f.at(2), 31)
	exptime, ok3 := parseUint(f.at(3), 63)
	stamp, ok4 := parseUint(f.at(4), 64)
	state := string(f.at(5))
	if !ok1 || !ok2 || !ok3 || !ok4 || (state != "live" && state != "deleted") {
		return 0, unexpected("sibling", line)
	}
	value, next, err := p.data(next, size)
	if err != nil {
		return 0, err
	}
	p.r.Siblings = append(p.r.Siblings, Sibling{Flags: uint32(flags), Exptime: int64(exptime),
		Timestamp: stamp, Deleted: state == "deleted", Value: value})
	return next, nil
}

// data returns the size-byte block at off and the offset past its "\r\n".
func (p *parser) data(off int, size uint64) ([]byte, int, error) {
	if size > MaxValueLength {
		return nil, 0, fmt.Errorf("%w: value of %d bytes exceeds %d", ErrProtocol, size, MaxValueLength)
	}
	end := off + int(size)
	if len(p.buf) < end+2 {
		return nil, 0, ErrIncomplete
	}
	if p.buf[end] != '\r' || p.buf[end+1] != '\n' {
		return nil, 0, fmt.Errorf("%w: data block not terminated by CRLF", ErrProtocol)
	}
	return p.buf[off:end:end], end + 2, nil
}

// fields splits a line on single spaces into at most len(idx)/2 tokens
// without allocating.
type fields struct {
	line []byte
	idx  [16]int32 // start and end of each token
	n    int
}

func (f *fields) split(line []byte) {
	f.line, f.n = line, 0
	start := -1
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] != ' ' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if f.n == len(f.idx)/2 {
				f.n++ // too many tokens: callers reject any n above their arity
				return
			}
			f.idx[2*f.n], f.idx[2*f.n+1] = int32(start), int32(i)
			f.n++
			start = -1
		}
	}
}

func (f *fields) at(i int) []byte { return f.line[f.idx[2*i]:f.idx[2*i+1]] }

// parseUint parses a decimal that fits in bits bits.
func parseUint(b []byte, bits uint) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if bits < 64 && v >= 1<<bits {
		return 0, false
	}
	return v, true
}
