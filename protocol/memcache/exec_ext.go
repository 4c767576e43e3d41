package memcache

import (
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
)

// getv serves the getv extension: every version of each key with the causal
// context that names them all.
func (e *Executor) getv(s *Session, cmd *Command, out []byte) []byte {
	start := len(out)
	for _, key := range cmd.Keys {
		if err := e.getObj(s, key); err != nil {
			return appendLine(out[:start], storageError(err))
		}
		if len(s.obj.Siblings) == 0 {
			continue
		}
		out = append(out, "CONTEXT "...)
		out = append(out, key...)
		out = append(out, ' ')
		out = appendUint(out, uint64(len(s.obj.Siblings)))
		out = append(out, ' ')
		out = appendContext(out, s.obj.Context)
		out = append(out, "\r\n"...)
		for i := range s.obj.Siblings {
			out = appendSibling(out, &s.obj.Siblings[i])
		}
		var spilled bool
		if out, spilled = s.spill(out); spilled {
			start = 0
		}
	}
	return append(out, "END\r\n"...)
}

// appendSibling appends
// "SIBLING <flags> <bytes> <exptime> <timestamp> <live|deleted>\r\n<data>\r\n".
func appendSibling(out []byte, sib *kv.Sibling) []byte {
	out = append(out, "SIBLING "...)
	out = appendUint(out, uint64(sib.Flags))
	out = append(out, ' ')
	value := sib.Value
	if sib.Deleted {
		value = nil
	}
	out = appendUint(out, uint64(len(value)))
	out = append(out, ' ')
	out = appendInt(out, sib.Expires)
	out = append(out, ' ')
	out = appendUint(out, sib.Timestamp)
	if sib.Deleted {
		out = append(out, " deleted\r\n"...)
	} else {
		out = append(out, " live\r\n"...)
	}
	out = append(out, value...)
	return append(out, "\r\n"...)
}

// putv serves the putv extension: a write that supersedes exactly the
// versions its context names.
func (e *Executor) putv(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	if cmd.Err != "" {
		return e.line(out, cmd, cmd.Err)
	}
	s.put = kv.PutRequest{Value: cmd.Data, Flags: cmd.Flags, Expires: expiresAt(cmd.Exptime, now)}
	return e.writeVersion(s, cmd, "STORED ", out)
}

// delv serves the delv extension: a tombstone superseding exactly the
// versions its context names.
func (e *Executor) delv(s *Session, cmd *Command, out []byte) []byte {
	s.put = kv.PutRequest{Delete: true}
	return e.writeVersion(s, cmd, "DELETED ", out)
}

func (e *Executor) writeVersion(s *Session, cmd *Command, code string, out []byte) []byte {
	ctx, err := decodeContext(s.ctx, cmd.Context)
	if err != nil {
		return e.line(out, cmd, errBadContext)
	}
	s.ctx = ctx
	s.put.Context = ctx
	res, err := e.putReq(s, cmd.Key)
	if err != nil {
		return e.line(out, cmd, storageError(err))
	}
	if cmd.NoReply {
		return out
	}
	out = append(out, code...)
	out = appendContext(out, res.Context)
	return append(out, "\r\n"...)
}
