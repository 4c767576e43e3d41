package memcache

import "hash/maphash"

// Planner splits a pipelined batch into waves whose commands may run
// concurrently while the batch keeps the effects and replies of running
// it in order (replies are still sent in request order; see
// protocol/server). A coordinator waits a network round trip per command,
// so a pipeline of 16 gets run one after another takes 16 round trips and
// run as one wave takes about one.
//
// The rules, from what memcached guarantees a pipelining client:
//   - Two commands that name the same key keep their order, whatever they
//     do: a get after a set on one connection sees the set.
//   - A command that names no key and changes nothing (version, mn, an
//     error reply) has no order to keep.
//   - Anything else is a barrier, in a wave of its own after everything
//     before it and before everything after it: stats (its counters count
//     the commands before it), flush_all, admin, meta commands with
//     base64 keys (their key bytes are not the key), and get (gets, gat,
//     gats, getv) of several keys, whose reply may be large and is
//     streamed while it is built, which only the batch's one running
//     command may do.
//
// Keys are compared by hash: a collision only orders two commands that
// did not need it. A Planner is not safe for concurrent use.
type Planner struct {
	seed maphash.Seed
	last map[uint64]int // key hash -> the wave of the last command that named it
}

// Plan sets waves[i] to the wave of cmds[i], counting from 0, and returns
// the number of waves and waves, grown to len(cmds) if needed. Every
// command of wave w may start once every command of waves before w is
// done; Barrier tells which commands are alone in their wave.
func (p *Planner) Plan(cmds []Command, waves []int) (int, []int) {
	if p.last == nil {
		p.seed, p.last = maphash.MakeSeed(), make(map[uint64]int)
	}
	clear(p.last)
	waves = append(waves[:0], make([]int, len(cmds))...)
	base, top := 0, -1 // the first wave after the last barrier; the highest wave so far
	for i := range cmds {
		cmd := &cmds[i]
		w := base
		switch {
		case unordered(cmd):
		case Barrier(cmd):
			w = top + 1
			base = w + 1
		default: // one key: a command of several is a barrier (Barrier)
			h := maphash.Bytes(p.seed, cmd.Key)
			if v, ok := p.last[h]; ok && v+1 > w {
				w = v + 1
			}
			p.last[h] = w
		}
		waves[i] = w
		top = max(top, w)
	}
	return top + 1, waves
}

// unordered reports whether cmd neither reads nor writes data, so that it
// can run in any wave.
func unordered(cmd *Command) bool {
	switch cmd.Op {
	case OpNone, OpError, OpClose, OpQuit, OpVersion, OpVerbosity, OpSlabs, OpMetaNoop:
		return true
	}
	return false
}

// Barrier reports whether cmd must run alone, after every command before
// it and before every command after it (see Planner).
func Barrier(cmd *Command) bool {
	switch cmd.Op {
	case OpGet, OpGets, OpGat, OpGats, OpGetv:
		return len(cmd.Keys) > 1
	case OpSet, OpAdd, OpReplace, OpAppend, OpPrepend, OpCas, OpDelete,
		OpIncr, OpDecr, OpTouch, OpPutv, OpDelv:
		return len(cmd.Key) == 0
	case OpMetaGet, OpMetaSet, OpMetaDelete, OpMetaArithmetic, OpMetaDebug:
		return cmd.Meta.Base64Key || len(cmd.Key) == 0
	}
	return !unordered(cmd)
}
