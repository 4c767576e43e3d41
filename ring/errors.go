package ring

import "errors"

// Errors returned by this package. They may be wrapped with detail (the
// offending ID, the value given); test them with errors.Is.
var (
	// ErrPartitions: the partition count is not a power of two in
	// [1, MaxPartitions].
	ErrPartitions = errors.New("ring: partition count must be a power of two from 1 to 65536")
	// ErrReplicas: the replication factor is outside [1, MaxReplicas].
	ErrReplicas = errors.New("ring: replicas must be from 1 to 16")
	// ErrNoMembers: a ring needs at least one member.
	ErrNoMembers = errors.New("ring: no members")
	// ErrTooManyMembers: there are more members than partitions, so some
	// would hold nothing.
	ErrTooManyMembers = errors.New("ring: more members than partitions")
	// ErrMemberID: a member ID is empty or longer than MaxNameLen bytes.
	ErrMemberID = errors.New("ring: member ID must be 1 to 255 bytes")
	// ErrZone: a zone name is longer than MaxNameLen bytes.
	ErrZone = errors.New("ring: zone name longer than 255 bytes")
	// ErrWeight: a weight is zero, negative, NaN or infinite.
	ErrWeight = errors.New("ring: weight must be positive and finite")
	// ErrDuplicateMember: two members share an ID, or a joining member is
	// already in the ring.
	ErrDuplicateMember = errors.New("ring: duplicate member")
	// ErrUnknownMember: the ID names no member of the ring.
	ErrUnknownMember = errors.New("ring: unknown member")
	// ErrTooFewMembers: a preference list longer than the membership was
	// asked for (N larger than the number of nodes).
	ErrTooFewMembers = errors.New("ring: fewer members than replicas asked for")
	// ErrRemovedMember: the ID was removed from the ring (Ring.Remove) and
	// may never be a member again.
	ErrRemovedMember = errors.New("ring: member was removed for good")
	// ErrPartition: a partition number is outside [0, Partitions()).
	ErrPartition = errors.New("ring: partition out of range")
	// ErrMismatch: two rings with different partition counts were compared.
	ErrMismatch = errors.New("ring: rings have different partition counts")
	// ErrCorrupt: an encoded ring is truncated, fails its checksum, or
	// breaks a rule of the format.
	ErrCorrupt = errors.New("ring: corrupt encoding")
	// ErrFormat: an encoded ring has a format version this code does not
	// know (written by a newer release).
	ErrFormat = errors.New("ring: unknown encoding format")
)
