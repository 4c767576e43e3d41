package memcache

// Parsing of the classic commands and the versioned extensions, each
// following the checks of its memcached process_*_command in order.

import "strconv"

func (p *Parser) parseGet(line []byte, cmd *Command) {
	switch string(p.tokens[0]) {
	case "get":
		cmd.Op = OpGet
	case "gets":
		cmd.Op = OpGets
	case "gat":
		cmd.Op = OpGat
	case "gats":
		cmd.Op = OpGats
	case "getv":
		cmd.Op = OpGetv
	default:
		fail(cmd, errGeneric)
		return
	}
	if cmd.Op == OpGat || cmd.Op == OpGats {
		exp, ok := parseInt32(p.tokens[1])
		if !ok {
			fail(cmd, errBadExptime)
			return
		}
		cmd.Exptime = exp
	}
	p.collectKeys(line, cmd)
}

// collectKeys fills cmd.Keys for a get-like command and rejects the whole
// command when a key is too long, as memcached does (its earlier hits are
// dropped too).
func (p *Parser) collectKeys(line []byte, cmd *Command) {
	splitKeys(line, cmd)
	if cmd.Op == OpGat || cmd.Op == OpGats {
		cmd.Keys = cmd.Keys[1:] // the first token was the exptime
	}
	if len(cmd.Keys) == 0 {
		// gat with only an exptime: memcached answers END.
		return
	}
	for _, k := range cmd.Keys {
		if len(k) > MaxKeyLen {
			cmd.Keys = cmd.Keys[:0]
			fail(cmd, errBadFormat)
			return
		}
	}
	cmd.Key = cmd.Keys[0]
}

// itemTooLarge applies memcached's item_size_ok to a value of vlen bytes.
func (p *Parser) itemTooLarge(nkey int, flags uint32, vlen int) bool {
	total := itemHeaderSize + nkey + vlen + 2
	if flags != 0 {
		total += 4
	}
	return total > p.maxItemSize
}

// dataBlock checks for the data block of vlen bytes after the command line
// ending at consumed. It returns the total length of line plus block, or 0
// when the block is not complete yet.
func dataBlock(buf []byte, consumed, vlen int) (data []byte, total int, crlf bool) {
	total = consumed + vlen + 2
	if len(buf) < total {
		return nil, 0, false
	}
	crlf = buf[total-2] == '\r' && buf[total-1] == '\n'
	return buf[consumed : consumed+vlen], total, crlf
}

// parseLength is memcached's check of a data length token: safe_strtol,
// then 0 <= vlen <= INT_MAX-2.
func parseLength(tok []byte) (int, bool) {
	v, ok := parseInt32(tok)
	if !ok || v < 0 || v > 1<<31-1-2 {
		return 0, false
	}
	return int(v), true
}

// parseStorage handles set/add/replace/append/prepend/cas
// (process_update_command).
func (p *Parser) parseStorage(buf []byte, consumed, ntok int, op Op, cmd *Command) (int, error) {
	want := 6
	if op == OpCas {
		want = 7
	}
	if ntok != want && ntok != want+1 {
		fail(cmd, errGeneric)
		return consumed, nil
	}
	cmd.NoReply = p.noreply(ntok)
	key := p.tokens[1]
	if len(key) > MaxKeyLen {
		fail(cmd, errBadFormat)
		return consumed, nil
	}
	flags, ok1 := parseUint32(p.tokens[2])
	exptime, ok2 := parseInt32(p.tokens[3])
	vlen32, ok3 := parseInt32(p.tokens[4])
	if !ok1 || !ok2 || !ok3 {
		fail(cmd, errBadFormat)
		return consumed, nil
	}
	if op == OpCas {
		cas, ok := parseUint64(p.tokens[5])
		if !ok {
			fail(cmd, errBadFormat)
			return consumed, nil
		}
		cmd.CAS = cas
	}
	if vlen32 < 0 || vlen32 > 1<<31-1-2 {
		fail(cmd, errBadFormat)
		return consumed, nil
	}
	vlen := int(vlen32)
	cmd.Op, cmd.Key, cmd.Flags, cmd.Exptime = op, key, flags, exptime
	if p.itemTooLarge(len(key), flags, vlen) {
		return p.rejectBlock(consumed, vlen, errTooLarge, cmd), nil
	}
	return p.takeBlock(buf, consumed, vlen, cmd), nil
}

// rejectBlock answers msg and discards the data block that follows.
func (p *Parser) rejectBlock(consumed, vlen int, msg string, cmd *Command) int {
	cmd.Err = msg
	cmd.TooLarge = msg == errTooLarge
	if !cmd.TooLarge {
		cmd.Op = OpError
	}
	p.swallow = vlen + 2
	return consumed
}

// takeBlock attaches the data block to cmd, or returns 0 if it is not all
// buffered yet.
func (p *Parser) takeBlock(buf []byte, consumed, vlen int, cmd *Command) int {
	data, total, crlf := dataBlock(buf, consumed, vlen)
	if total == 0 {
		return 0
	}
	if !crlf {
		// memcached counts the attempt, answers, and parses whatever
		// follows the vlen+2 bytes it read as the next command.
		cmd.Err = errBadChunk
		return total
	}
	cmd.Data = data
	return total
}

// parsePutv handles "putv <key> <flags> <exptime> <bytes> <context|-> [noreply]".
func (p *Parser) parsePutv(buf []byte, consumed, ntok int, cmd *Command) (int, error) {
	if ntok != 7 && ntok != 8 {
		fail(cmd, errGeneric)
		return consumed, nil
	}
	cmd.NoReply = ntok == 8 && p.noreply(ntok)
	key := p.tokens[1]
	flags, ok1 := parseUint32(p.tokens[2])
	exptime, ok2 := parseInt32(p.tokens[3])
	vlen, ok3 := parseLength(p.tokens[4])
	if len(key) > MaxKeyLen || !ok1 || !ok2 || !ok3 {
		fail(cmd, errBadFormat)
		return consumed, nil
	}
	cmd.Op, cmd.Key, cmd.Flags, cmd.Exptime, cmd.Context = OpPutv, key, flags, exptime, p.tokens[5]
	if !validContext(cmd.Context) {
		return p.rejectBlock(consumed, vlen, errBadContext, cmd), nil
	}
	if p.itemTooLarge(len(key), flags, vlen) {
		return p.rejectBlock(consumed, vlen, errTooLarge, cmd), nil
	}
	return p.takeBlock(buf, consumed, vlen, cmd), nil
}

func (p *Parser) parseArithmetic(ntok int, op Op, cmd *Command) {
	if ntok != 4 && ntok != 5 {
		fail(cmd, errGeneric)
		return
	}
	cmd.NoReply = p.noreply(ntok)
	if len(p.tokens[1]) > MaxKeyLen {
		fail(cmd, errBadFormat)
		return
	}
	delta, ok := parseUint64(p.tokens[2])
	if !ok {
		fail(cmd, errBadDelta)
		return
	}
	cmd.Op, cmd.Key, cmd.Delta = op, p.tokens[1], delta
}

func (p *Parser) parseDelete(ntok int, cmd *Command) {
	if ntok < 3 || ntok > 5 {
		fail(cmd, errGeneric)
		return
	}
	if ntok > 3 {
		holdIsZero := string(p.tokens[2]) == "0"
		cmd.NoReply = p.noreply(ntok)
		valid := ntok == 4 && (holdIsZero || cmd.NoReply) || ntok == 5 && holdIsZero && cmd.NoReply
		if !valid {
			fail(cmd, errDeleteUsage)
			return
		}
	}
	if len(p.tokens[1]) > MaxKeyLen {
		fail(cmd, errBadFormat)
		return
	}
	cmd.Op, cmd.Key = OpDelete, p.tokens[1]
}

// parseDelv handles "delv <key> <context|-> [noreply]".
func (p *Parser) parseDelv(ntok int, cmd *Command) {
	if ntok != 4 && ntok != 5 {
		fail(cmd, errGeneric)
		return
	}
	cmd.NoReply = ntok == 5 && p.noreply(ntok)
	if len(p.tokens[1]) > MaxKeyLen {
		fail(cmd, errBadFormat)
		return
	}
	if !validContext(p.tokens[2]) {
		fail(cmd, errBadContext)
		return
	}
	cmd.Op, cmd.Key, cmd.Context = OpDelv, p.tokens[1], p.tokens[2]
}

func (p *Parser) parseTouch(ntok int, cmd *Command) {
	if ntok != 4 && ntok != 5 {
		fail(cmd, errGeneric)
		return
	}
	cmd.NoReply = p.noreply(ntok)
	if len(p.tokens[1]) > MaxKeyLen {
		fail(cmd, errBadFormat)
		return
	}
	exp, ok := parseInt32(p.tokens[2])
	if !ok {
		fail(cmd, errBadExptime)
		return
	}
	cmd.Op, cmd.Key, cmd.Exptime = OpTouch, p.tokens[1], exp
}

func (p *Parser) parseFlushAll(ntok int, cmd *Command) {
	if ntok < 2 || ntok > 4 {
		fail(cmd, errGeneric)
		return
	}
	cmd.NoReply = p.noreply(ntok)
	want := 2
	if cmd.NoReply {
		want = 3
	}
	cmd.Op = OpFlushAll
	if ntok != want {
		delay, ok := parseInt32(p.tokens[1])
		if !ok {
			// memcached counts the flush before it checks the argument.
			cmd.Err = errBadExptime
			return
		}
		cmd.Exptime = delay
	}
}

func (p *Parser) parseVerbosity(ntok int, cmd *Command) {
	if ntok != 3 && ntok != 4 {
		fail(cmd, errGeneric)
		return
	}
	cmd.NoReply = p.noreply(ntok)
	if _, ok := parseUint32(p.tokens[1]); !ok {
		cmd.Op, cmd.Err = OpError, errBadFormat
		return
	}
	cmd.Op = OpVerbosity
}

// parseSlabs answers memcached's slab commands as memcached does when it
// has no slab class to act on (there is no slab allocator here): automove
// takes its level (0, 1 or 2) and does nothing, reassign finds no class.
// Arguments are checked as memcached checks them.
func (p *Parser) parseSlabs(ntok int, cmd *Command) {
	reply := func(s string) { cmd.Op, cmd.Err = OpSlabs, s }
	switch {
	case ntok >= 5 && string(p.tokens[1]) == "reassign":
		cmd.NoReply = p.noreply(ntok)
		_, ok1 := parseInt32(p.tokens[2])
		_, ok2 := parseInt32(p.tokens[3])
		if !ok1 || !ok2 {
			reply(errBadFormat)
			return
		}
		reply("BADCLASS invalid src or dst class id")
	case ntok >= 4 && string(p.tokens[1]) == "automove":
		cmd.NoReply = p.noreply(ntok)
		if string(p.tokens[2]) == "ratio" {
			if ntok < 5 {
				reply(errGeneric)
				return
			}
			if _, err := strconv.ParseFloat(string(p.tokens[3]), 64); err != nil {
				reply(errGeneric)
				return
			}
			reply("OK")
			return
		}
		level, ok := parseUint32(p.tokens[2])
		switch {
		case !ok:
			reply(errBadFormat)
		case level > 2:
			reply(errGeneric)
		default:
			reply("OK")
		}
	default:
		fail(cmd, errGeneric)
	}
}

func (p *Parser) parseStats(ntok int, cmd *Command) {
	cmd.Op = OpStats
	if ntok > 2 {
		cmd.Arg = p.tokens[1]
	}
	if ntok > 3 {
		cmd.Key = p.tokens[2] // the sub-command's argument: stats detail on
	}
}
