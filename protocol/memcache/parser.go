package memcache

import (
	"bytes"
	"errors"
)

// Limits memcached 1.6 enforces on the text protocol.
const (
	// MaxKeyLen is the longest key memcached accepts (KEY_MAX_LENGTH).
	MaxKeyLen = 250
	// DefaultMaxItemSize is memcached's default item size limit (-I 1m).
	DefaultMaxItemSize = 1 << 20
	// lineWithoutNewline is how many bytes memcached buffers without seeing
	// a newline before it gives up on the connection (try_read_command_ascii).
	lineWithoutNewline = 2048
	// maxTokens is memcached's MAX_TOKENS: at most 23 tokens are split out
	// of a line, plus one terminal token.
	maxTokens = 24
	// metaMaxTokens is MFLAG_MAX_OPT_LENGTH: meta commands with more tokens
	// (command, key and flags, plus the terminal token) are refused.
	metaMaxTokens = 20
	// maxOpaqueLen is MFLAG_MAX_OPAQUE_LENGTH.
	maxOpaqueLen = 32
	// itemHeaderSize is what memcached 1.6 on a 64-bit host adds to a value
	// when it checks the item size limit: sizeof(item) (48), the CAS (8),
	// and the key's terminating NUL (1). Client flags add 4 more when
	// non-zero, and the value is stored with its CRLF.
	itemHeaderSize = 48 + 8 + 1
)

// ErrLineTooLong is returned when more than 2 KiB arrive without a newline
// (or a get line outgrows the multi-get limit). memcached closes such a
// connection without a reply; so does the server.
var ErrLineTooLong = errors.New("memcache: request line too long")

// Parser splits a byte stream into commands. It is a streaming parser: it
// never needs more than one command (line plus data block) in memory, keeps
// the only state that spans commands (bytes still to be discarded after a
// rejected data block), and never retains the buffers it is given. It does
// no I/O. The zero value is not ready; use NewParser.
type Parser struct {
	maxItemSize int
	maxMultiget int
	swallow     int // bytes of a rejected data block still to discard
	tokens      [maxTokens][]byte
}

// NewParser returns a parser enforcing maxItemSize (DefaultMaxItemSize when
// maxItemSize <= 0).
func NewParser(maxItemSize int) *Parser {
	p := &Parser{}
	p.Reset(maxItemSize)
	return p
}

// ParserState is what a Parser carries from one command to the next: the
// part of a rejected data block still to be discarded.
type ParserState struct{ swallow int }

// State returns p's state between commands, for Restore.
func (p *Parser) State() ParserState { return ParserState{p.swallow} }

// Restore returns p to a state State returned, so that input parsed after
// it can be parsed again (a server that ran only part of a batch).
func (p *Parser) Restore(s ParserState) { p.swallow = s.swallow }

// Reset readies p for a new connection.
func (p *Parser) Reset(maxItemSize int) {
	if maxItemSize <= 0 {
		maxItemSize = DefaultMaxItemSize
	}
	*p = Parser{maxItemSize: maxItemSize}
	// memcached grows its read buffer without limit for multi-gets; we
	// stop at the size of the largest storage command instead.
	p.maxMultiget = maxItemSize + lineWithoutNewline
}

// Swallowing reports whether p is discarding the rest of a rejected data
// block.
func (p *Parser) Swallowing() bool { return p.swallow > 0 }

// Next parses the first command in buf into cmd and returns how many bytes
// it used. n == 0 with a nil error means buf holds no complete command yet;
// the caller keeps the bytes and calls again with more. Bytes of a rejected
// data block are consumed as commands with Op OpNone. The slices of cmd
// point into buf. err is ErrLineTooLong when the connection must be closed.
func (p *Parser) Next(buf []byte, cmd *Command) (n int, err error) {
	cmd.reset()
	if p.swallow > 0 {
		n = min(len(buf), p.swallow)
		p.swallow -= n
		cmd.Op = OpNone
		return n, nil
	}
	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 {
		return 0, p.checkPartialLine(buf)
	}
	line := buf[:nl]
	if nl > 1 && line[nl-1] == '\r' {
		line = line[:nl-1]
	}
	// memcached treats the line as a C string.
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	return p.parseLine(buf, line, nl+1, cmd)
}

// checkPartialLine applies memcached's rule for a line with no newline yet:
// past 2 KiB only a get or gets (after at most 100 spaces) may keep growing.
func (p *Parser) checkPartialLine(buf []byte) error {
	if len(buf) <= lineWithoutNewline {
		return nil
	}
	rest := bytes.TrimLeft(buf, " ")
	if len(buf)-len(rest) > 100 {
		return ErrLineTooLong
	}
	if !bytes.HasPrefix(rest, []byte("get ")) && !bytes.HasPrefix(rest, []byte("gets ")) {
		return ErrLineTooLong
	}
	if len(buf) > p.maxMultiget {
		return ErrLineTooLong
	}
	return nil
}

// tokenize splits line on spaces the way memcached's tokenize_command does
// and returns the token count memcached would report: the real tokens (at
// most maxTokens-1) plus one terminal token.
func (p *Parser) tokenize(line []byte) int {
	n := 0
	i := 0
	for i < len(line) && n < maxTokens-1 {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		p.tokens[n] = line[i:j]
		n++
		i = j
	}
	return n + 1
}

// splitKeys appends every space-separated token of line after the command
// to cmd.Keys; get-like commands accept any number of keys.
func splitKeys(line []byte, cmd *Command) {
	first := true
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		if j > i {
			if !first {
				cmd.Keys = append(cmd.Keys, line[i:j])
			}
			first = false
		}
		i = j
	}
}

const (
	errBadFormat     = "CLIENT_ERROR bad command line format"
	errBadChunk      = "CLIENT_ERROR bad data chunk"
	errTooLarge      = "SERVER_ERROR object too large for cache"
	errBadExptime    = "CLIENT_ERROR invalid exptime argument"
	errBadDelta      = "CLIENT_ERROR invalid numeric delta argument"
	errDeleteUsage   = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
	errShutdownOff   = "ERROR: shutdown not enabled"
	errGeneric       = "ERROR"
	errBadContext    = "CLIENT_ERROR bad context"
	errNonNumericMsg = "CLIENT_ERROR cannot increment or decrement non-numeric value"
	errStatsUsage    = "CLIENT_ERROR usage: stats detail on|off|dump"
	errBadStatsLine  = "CLIENT_ERROR bad command line"
)

// fail makes cmd an error reply.
func fail(cmd *Command, msg string) {
	cmd.Op = OpError
	cmd.Err = msg
}

// parseLine dispatches on the command word as process_command_ascii does.
// consumed is the length of the line including its newline.
func (p *Parser) parseLine(buf, line []byte, consumed int, cmd *Command) (int, error) {
	ntok := p.tokenize(line)
	// Drop the token slices afterwards: a parser lives as long as its
	// connection and must not pin the buffers it was given.
	defer clear(p.tokens[:ntok-1])
	if ntok < 2 || len(p.tokens[0]) < 2 {
		fail(cmd, errGeneric)
		return consumed, nil
	}
	name := p.tokens[0]
	switch {
	case name[0] == 'm' && len(name) == 2:
		return p.parseMeta(buf, consumed, ntok, cmd)
	case name[0] == 'g':
		if ntok < 3 {
			fail(cmd, errGeneric)
			return consumed, nil
		}
		p.parseGet(line, cmd)
		return consumed, nil
	}
	switch string(name) {
	case "set":
		return p.parseStorage(buf, consumed, ntok, OpSet, cmd)
	case "add":
		return p.parseStorage(buf, consumed, ntok, OpAdd, cmd)
	case "append":
		return p.parseStorage(buf, consumed, ntok, OpAppend, cmd)
	case "replace":
		return p.parseStorage(buf, consumed, ntok, OpReplace, cmd)
	case "prepend":
		return p.parseStorage(buf, consumed, ntok, OpPrepend, cmd)
	case "cas":
		return p.parseStorage(buf, consumed, ntok, OpCas, cmd)
	case "putv":
		return p.parsePutv(buf, consumed, ntok, cmd)
	case "incr":
		p.parseArithmetic(ntok, OpIncr, cmd)
	case "decr":
		p.parseArithmetic(ntok, OpDecr, cmd)
	case "delete":
		p.parseDelete(ntok, cmd)
	case "delv":
		p.parseDelv(ntok, cmd)
	case "touch":
		p.parseTouch(ntok, cmd)
	case "bget":
		if ntok < 3 {
			fail(cmd, errGeneric)
			return consumed, nil
		}
		cmd.Op = OpGet
		p.collectKeys(line, cmd)
	case "flush_all":
		p.parseFlushAll(ntok, cmd)
	case "version":
		cmd.Op = OpVersion
	case "quit":
		cmd.Op = OpQuit
	case "verbosity":
		p.parseVerbosity(ntok, cmd)
	case "stats":
		p.parseStats(ntok, cmd)
	case "slabs":
		p.parseSlabs(ntok, cmd)
	case "admin":
		if ntok < 3 {
			fail(cmd, errGeneric)
			return consumed, nil
		}
		cmd.Op = OpAdmin
		p.collectKeys(line, cmd)
	case "shutdown":
		fail(cmd, errShutdownOff)
	default:
		// memcached drops connections that look like HTTP requests.
		if bytes.HasPrefix(p.tokens[ntok-2], []byte("HTTP/")) {
			cmd.Op = OpClose
			return consumed, nil
		}
		fail(cmd, errGeneric)
	}
	return consumed, nil
}

// noreply reports whether the last real token is "noreply"
// (set_noreply_maybe).
func (p *Parser) noreply(ntok int) bool {
	return string(p.tokens[ntok-2]) == "noreply"
}
