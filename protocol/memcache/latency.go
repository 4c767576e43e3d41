package memcache

import (
	"bytes"
	"time"
)

// Class groups commands for latency figures: a few classes an operator
// sets objectives on, rather than one series per command word.
type Class uint8

const (
	ClassNone   Class = iota // not timed: stats, version, flush_all, admin, ...
	ClassGet                 // get, gets, gat, gats, mg
	ClassSet                 // set, add, replace, cas, append, prepend, ms
	ClassDelete              // delete, md
	ClassArith               // incr, decr, ma
	ClassTouch               // touch
	ClassGetv                // getv (all versions and the context)
	ClassPutv                // putv
	ClassDelv                // delv
	NumClasses
)

var classNames = [NumClasses]string{"none", "get", "set", "delete", "arith", "touch", "getv", "putv", "delv"}

func (c Class) String() string {
	if c < NumClasses {
		return classNames[c]
	}
	return "unknown"
}

// ClassOf is the class an operation is timed under.
func ClassOf(op Op) Class {
	switch op {
	case OpGet, OpGets, OpGat, OpGats, OpMetaGet:
		return ClassGet
	case OpSet, OpAdd, OpReplace, OpCas, OpAppend, OpPrepend, OpMetaSet:
		return ClassSet
	case OpDelete, OpMetaDelete:
		return ClassDelete
	case OpIncr, OpDecr, OpMetaArithmetic:
		return ClassArith
	case OpTouch:
		return ClassTouch
	case OpGetv:
		return ClassGetv
	case OpPutv:
		return ClassPutv
	case OpDelv:
		return ClassDelv
	}
	return ClassNone
}

// Outcome is how a timed command ended.
type Outcome uint8

const (
	OutcomeOK          Outcome = iota // any answer but an error line (a miss is OK)
	OutcomeClientError                // CLIENT_ERROR or ERROR: the request was bad
	OutcomeServerError                // SERVER_ERROR: the node could not serve it
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{"ok", "client_error", "server_error"}

func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// LatencyRecorder is told how long each command of a class took to
// execute (from parsed to answered; queueing before it not counted) and
// how it ended.
type LatencyRecorder interface {
	Observe(c Class, o Outcome, d time.Duration)
}

// timed runs cmd through execute and reports it to the recorder. The
// command's clock reading (Options.Now, which a recorder's server leaves
// at time.Now) is its start, so timing costs one more clock read.
func (e *Executor) timed(s *Session, cmd *Command, now time.Time, out []byte) []byte {
	c := ClassOf(cmd.Op)
	if c == ClassNone {
		return e.execute(s, cmd, now, out)
	}
	n := len(out)
	out = e.execute(s, cmd, now, out)
	d := e.opts.Now().Sub(now)
	o := OutcomeOK
	// A reply spilled to the connection is gone from out; it was no error
	// line, which is short.
	if len(out) > n {
		o = outcomeOf(out[n:])
	}
	e.opts.Latency.Observe(c, o, d)
	return out
}

func outcomeOf(r []byte) Outcome {
	switch {
	case bytes.HasPrefix(r, []byte("SERVER_ERROR")):
		return OutcomeServerError
	case bytes.HasPrefix(r, []byte("CLIENT_ERROR")), bytes.HasPrefix(r, []byte("ERROR")):
		return OutcomeClientError
	}
	return OutcomeOK
}
