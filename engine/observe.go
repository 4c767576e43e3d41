package engine

import "github.com/dynamo-kv/dynamo/engine/dvv"

// Event is one change to a record or a hint, for Options.Observer.
type Event struct {
	What EventKind
	Key  []byte
	// Record is the key's record after the change, encoded; nil when the
	// record is gone or the event is a hint's. Owned by the engine: copy
	// what you keep.
	Record []byte
	Dot    dvv.Dot // a put's new version
	Owner  string  // a hint's owner
}

// EventKind says what changed.
type EventKind uint8

const (
	EventPut         EventKind = iota + 1 // a write coordinated here minted Dot
	EventMerge                            // a merge changed the local copy
	EventDrop                             // let go of after its owners took it
	EventReap                             // removed as dead
	EventHintAdded                        // a hint for Owner was stored
	EventHintRemoved                      // a hint for Owner was removed
)

var eventNames = [...]string{"?", "put", "merge", "drop", "reap", "hint+", "hint-"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "?"
}

func (e *Engine) observe(ev Event) {
	if e.opts.Observer != nil {
		e.opts.Observer(ev)
	}
}
