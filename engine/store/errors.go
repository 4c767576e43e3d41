package store

import "errors"

// Errors returned by the store; they may be wrapped with details, so check
// them with errors.Is.
var (
	// ErrClosed is returned by every call made after Close has begun.
	ErrClosed = errors.New("store: closed")
	// ErrCommitFailed wraps the Pebble error that failed a commit. After it
	// the store accepts no more writes; the failed entries stay buffered and
	// readable, and the store must be reopened.
	ErrCommitFailed = errors.New("store: commit to pebble failed")
	// ErrInvalidOptions is returned by Open for options it cannot use.
	ErrInvalidOptions = errors.New("store: invalid options")
	// ErrInvalidDurability is returned for a Durability outside the defined modes.
	ErrInvalidDurability = errors.New("store: invalid durability")
)
