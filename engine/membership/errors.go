package membership

import "errors"

// Errors returned by this package. They may be wrapped with detail (the
// offending value, the address that answered); test them with errors.Is.
var (
	// ErrConfig: a Config field is invalid (empty or too long node ID,
	// weight not positive, bad address or secret key length).
	ErrConfig = errors.New("membership: invalid config")
	// ErrMetaTooLarge: the node's metadata (zone, addresses and the fixed
	// fields) would not fit in memberlist's 512-byte limit.
	ErrMetaTooLarge = errors.New("membership: node metadata longer than 512 bytes")
	// ErrSavedRing: Config.SavedRing does not decode.
	ErrSavedRing = errors.New("membership: saved ring does not decode")
	// ErrNoSeed: no seed answered within Timing.JoinTimeout (or the
	// context given to Join).
	ErrNoSeed = errors.New("membership: no seed answered")
	// ErrDuplicateID: the cluster already has a live node with this node's
	// ID at another address. Node IDs must be unique; a restarted node
	// either reuses its old gossip address or waits until the old instance
	// is declared dead.
	ErrDuplicateID = errors.New("membership: node ID already in use")
	// ErrRingConfig: the cluster's ring has another partition count or
	// replication factor than the ring this node holds, so the two can
	// never be one ring.
	ErrRingConfig = errors.New("membership: cluster ring has another partition count or replication factor")
	// ErrLastMember: the only member of a ring cannot leave it.
	ErrLastMember = errors.New("membership: the last ring member cannot leave")
	// ErrRemoved: this node's ID was removed from the cluster for good
	// (Membership.Remove on some node); it may not run under that ID
	// again.
	ErrRemoved = errors.New("membership: this node was removed from the cluster")
	// ErrRemoveSelf: a node cannot remove itself; it leaves.
	ErrRemoveSelf = errors.New("membership: a node cannot remove itself")
	// ErrRemoveAlive: the node to remove is up; it should leave instead.
	ErrRemoveAlive = errors.New("membership: cannot remove a node that is up")
	// ErrUnknownNode: no node of that ID is known here.
	ErrUnknownNode = errors.New("membership: no such node")
	// ErrClosed: the Membership has been shut down.
	ErrClosed = errors.New("membership: shut down")
)
