package memcache

import "github.com/dynamo-kv/dynamo/engine/kv"

// Error lines of the meta commands, as memcached 1.6.18 words them.
const (
	errMetaFlagsTooLong    = "CLIENT_ERROR options flags too long"
	errMetaGetFlagsTooLong = "CLIENT_ERROR options flags are too long"
	errDuplicateFlag       = "CLIENT_ERROR duplicate flag"
	errInvalidFlag         = "CLIENT_ERROR invalid flag"
	errInvalidOrDuplicate  = "CLIENT_ERROR invalid or duplicate flag"
	errDecodingKey         = "CLIENT_ERROR error decoding key"
	errBadToken            = "CLIENT_ERROR bad token in command line format"
	errModeLength          = "CLIENT_ERROR incorrect length for M token"
	errBadInitial          = "CLIENT_ERROR invalid numeric initial value"
	errBadDeltaValue       = "CLIENT_ERROR invalid numeric delta value"
	errOpaqueTooLong       = "CLIENT_ERROR opaque token too long"
	errMsMode              = "CLIENT_ERROR invalid mode for ms M token"
	errMaMode              = "CLIENT_ERROR invalid mode for ma M token"
)

// parseMeta dispatches mg/ms/md/ma/mn/me.
func (p *Parser) parseMeta(buf []byte, consumed, ntok int, cmd *Command) (int, error) {
	switch p.tokens[0][1] {
	case 'g':
		p.parseMetaGet(ntok, cmd)
	case 's':
		return p.parseMetaSet(buf, consumed, ntok, cmd), nil
	case 'd':
		p.parseMetaDelete(ntok, cmd)
	case 'a':
		p.parseMetaArithmetic(ntok, cmd)
	case 'n':
		cmd.Op = OpMetaNoop
	case 'e':
		p.parseMetaDebug(ntok, cmd)
	default:
		fail(cmd, errGeneric)
	}
	return consumed, nil
}

// metaHead checks what every meta command checks before its flags: at
// least a key, the key length, and the token count.
func (p *Parser) metaHead(ntok int, tooLong string, cmd *Command) bool {
	if ntok < 3 {
		fail(cmd, errGeneric)
		return false
	}
	if len(p.tokens[1]) > MaxKeyLen {
		fail(cmd, errBadFormat)
		return false
	}
	if ntok > metaMaxTokens {
		fail(cmd, tooLong)
		return false
	}
	cmd.Key = p.tokens[1]
	return true
}

func (p *Parser) parseMetaGet(ntok int, cmd *Command) {
	if !p.metaHead(ntok, errMetaGetFlagsTooLong, cmd) {
		return
	}
	if msg := p.metaFlags(OpMetaGet, 2, ntok, cmd); msg != "" {
		fail(cmd, msg)
		return
	}
	if msg := checkOpaque(&cmd.Meta); msg != "" {
		fail(cmd, msg)
		return
	}
	cmd.Op = OpMetaGet
}

func (p *Parser) parseMetaDelete(ntok int, cmd *Command) {
	if !p.metaHead(ntok, errMetaFlagsTooLong, cmd) {
		return
	}
	if msg := p.metaFlags(OpMetaDelete, 2, ntok, cmd); msg != "" {
		// memcached ignores the specific reason here.
		if msg != errBadContext {
			msg = errInvalidOrDuplicate
		}
		fail(cmd, msg)
		return
	}
	if msg := checkOpaque(&cmd.Meta); msg != "" {
		fail(cmd, msg)
		return
	}
	cmd.Op = OpMetaDelete
}

func (p *Parser) parseMetaArithmetic(ntok int, cmd *Command) {
	if !p.metaHead(ntok, errMetaFlagsTooLong, cmd) {
		return
	}
	if msg := p.metaFlags(OpMetaArithmetic, 2, ntok, cmd); msg != "" {
		fail(cmd, errInvalidOrDuplicate)
		return
	}
	switch cmd.Meta.Mode {
	case 0, 'I', '+', 'D', '-':
	default:
		fail(cmd, errMaMode)
		return
	}
	if msg := checkOpaque(&cmd.Meta); msg != "" {
		fail(cmd, msg)
		return
	}
	cmd.Op = OpMetaArithmetic
}

// parseMetaSet handles "ms <key> <datalen> <flags>*" (process_mset_command).
func (p *Parser) parseMetaSet(buf []byte, consumed, ntok int, cmd *Command) int {
	if ntok < 3 {
		fail(cmd, errGeneric)
		return consumed
	}
	if len(p.tokens[1]) > MaxKeyLen || ntok == 3 {
		fail(cmd, errBadFormat)
		return consumed
	}
	if ntok > metaMaxTokens {
		fail(cmd, errMetaFlagsTooLong)
		return consumed
	}
	vlen, ok := parseLength(p.tokens[2])
	if !ok {
		fail(cmd, errBadFormat)
		return consumed
	}
	cmd.Op, cmd.Key = OpMetaSet, p.tokens[1]
	if msg := p.metaFlags(OpMetaSet, 3, ntok, cmd); msg != "" {
		return p.rejectBlock(consumed, vlen, msg, cmd)
	}
	opaqueErr := checkOpaque(&cmd.Meta)
	switch cmd.Meta.Mode {
	case 0, 'E', 'A', 'P', 'R', 'S':
	default:
		return p.rejectBlock(consumed, vlen, errMsMode, cmd)
	}
	if opaqueErr != "" {
		return p.rejectBlock(consumed, vlen, opaqueErr, cmd)
	}
	if p.itemTooLarge(len(cmd.Key), cmd.Meta.Flags, vlen) {
		return p.rejectBlock(consumed, vlen, errTooLarge, cmd)
	}
	return p.takeBlock(buf, consumed, vlen, cmd)
}

// parseMetaDebug handles "me <key> [b]" (process_meta_command).
func (p *Parser) parseMetaDebug(ntok int, cmd *Command) {
	if ntok < 3 || len(p.tokens[1]) > MaxKeyLen {
		fail(cmd, errBadFormat)
		return
	}
	cmd.Op, cmd.Key = OpMetaDebug, p.tokens[1]
	if ntok >= 4 && string(p.tokens[2]) == "b" {
		if !validKey(cmd.Key) {
			fail(cmd, errBadFormat)
			return
		}
		cmd.Meta.Base64Key = true
	}
}

// checkOpaque rejects opaque tokens longer than memcached copies back.
func checkOpaque(m *MetaFlags) string {
	for _, t := range m.Tokens {
		if t[0] == 'O' && len(t) > maxOpaqueLen {
			return errOpaqueTooLong
		}
	}
	return ""
}

// metaFlags parses the flag tokens p.tokens[start:ntok-1] into cmd.Meta,
// reproducing _meta_flag_preparse: a duplicate or unknown flag stops at
// once; a bad argument is remembered (the last message wins) and parsing
// goes on. It returns the error line, or "" when the flags are valid.
func (p *Parser) metaFlags(op Op, start, ntok int, cmd *Command) string {
	m := &cmd.Meta
	var seen [128]bool
	msg, failed := "", false
	for _, tok := range p.tokens[start : ntok-1] {
		c := tok[0]
		if c >= 127 || seen[c] {
			return errDuplicateFlag
		}
		seen[c] = true
		m.Tokens = append(m.Tokens, tok)
		arg := tok[1:]
		bad := func(s string) {
			failed = true
			if s != "" {
				msg = s
			}
		}
		switch c {
		case 'b':
			m.Base64Key = true
			if !validKey(cmd.Key) {
				bad(errDecodingKey)
			}
		case 'N':
			m.Vivify = true
			if v, ok := parseInt32(arg); ok {
				m.VivifyTTL = v
			} else {
				bad(errBadToken)
			}
		case 'T':
			if v, ok := parseInt32(arg); ok {
				m.HasTTL, m.TTL = true, v
			} else {
				bad(errBadToken)
			}
		case 'R':
			if v, ok := parseInt32(arg); ok {
				m.HasRecache, m.RecacheTTL = true, v
			} else {
				bad(errBadToken)
			}
		case 'O', 'P', 'L', 'k', 's', 't', 'c', 'f', 'u', 'h', 'l':
		case 'v':
			m.Value = true
		case 'q':
			m.Quiet = true
		case 'F':
			if v, ok := parseUint32(arg); ok {
				m.Flags = v
			} else {
				bad("")
			}
		case 'C':
			if v, ok := parseUint64(arg); ok {
				m.HasCAS, m.CAS = true, v
			} else {
				bad(errBadToken)
			}
		case 'M':
			if len(tok) != 2 {
				bad(errModeLength)
			} else {
				m.Mode = tok[1]
			}
		case 'J':
			if v, ok := parseUint64(arg); ok {
				m.Initial = v
			} else {
				bad(errBadInitial)
			}
		case 'D':
			if s := p.durabilityFlag(op, arg, m); s != "" {
				bad(s)
			}
		case 'I':
			m.Invalidate = true
		case 'x':
			if op != OpMetaDelete {
				return errInvalidFlag
			}
			m.RemoveVal = true
		case 'X':
			switch op {
			case OpMetaGet:
			case OpMetaSet, OpMetaDelete:
				m.HasContext, m.Context = true, arg
				if !validContext(arg) {
					bad(errBadContext)
				}
			default:
				return errInvalidFlag
			}
		case 'Y':
			if op != OpMetaGet {
				return errInvalidFlag
			}
		case 'r':
			if op != OpMetaGet {
				return errInvalidFlag
			}
			if v, ok := parseUint32(arg); ok && v >= 1 && v <= maxQuorum {
				m.ReadQuorum = int(v)
			} else {
				bad(errBadToken)
			}
		case 'w':
			if op != OpMetaSet && op != OpMetaDelete && op != OpMetaArithmetic {
				return errInvalidFlag
			}
			if v, ok := parseUint32(arg); ok && v >= 1 && v <= maxQuorum {
				m.WriteQuorum = int(v)
			} else {
				bad(errBadToken)
			}
		default:
			// E (explicit CAS) cannot be honoured: the CAS is a digest of
			// the key's versions. It is refused like any unknown flag.
			return errInvalidFlag
		}
	}
	if failed {
		if msg == "" {
			msg = errBadFormat
		}
		return msg
	}
	return ""
}

// maxQuorum bounds the r and w flags; the cluster rejects values above N.
const maxQuorum = 255

// durabilityFlag reads D: the delta of ma; on ms and md our durability
// extension D<b|w|s>, while a number is accepted and ignored as memcached
// 1.6.18 does.
func (p *Parser) durabilityFlag(op Op, arg []byte, m *MetaFlags) string {
	if op == OpMetaSet || op == OpMetaDelete {
		switch string(arg) {
		case "b":
			m.Durability = kv.Buffered
			return ""
		case "w":
			m.Durability = kv.WAL
			return ""
		case "s":
			m.Durability = kv.Sync
			return ""
		}
	}
	v, ok := parseUint64(arg)
	if !ok {
		return errBadDeltaValue
	}
	m.Delta = v
	return ""
}
