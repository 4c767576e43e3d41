package ring

import (
	"fmt"
	"slices"
)

// Ring is one immutable version of the partition map: which member owns
// each of Q partitions and, from that, every partition's preference list.
// Membership changes return a new Ring with a higher version; a Ring is
// never modified, so it can be shared by any number of goroutines and
// published through an atomic.Pointer.
type Ring struct {
	cfg     Config
	version uint64
	shift   uint // hash >> shift is the partition

	members    []Member // sorted by ID; a member's index is its number here
	zones      []string // sorted distinct zones
	zoneOf     []uint16 // member → zone
	owners     []uint16 // partition → member
	idle       []uint16 // members that own no partition, in ID order
	zoneSize   []int32  // zone → members that own partitions
	emptyZones int32    // zones where no member owns a partition

	depth int      // entries of each partition's order kept in prefs
	prefs []uint16 // partition p's first depth members at [p*depth:]

	// removed is every ID a Remove retired, sorted: such a node lost its
	// data for good or was declared to, and may never be a member again
	// (a restart with its old data would bring back what the others
	// deleted since). Carried forward by every later ring.
	removed []string

	enc         []byte // canonical encoding
	fingerprint uint64
}

// New builds the first ring (version 1) of a cluster. Members may be given
// in any order; the result depends only on cfg and the set of members.
func New(cfg Config, members []Member) (*Ring, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sorted, err := normalize(members, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	return assemble(cfg, sorted, narrow(place(cfg, sorted, nil)), 1, nil), nil
}

// Join returns the next ring with m added. The newcomer takes its share
// from the members that must shrink, evenly around the ring; no other
// partition changes owner unless a bad window needs a repair swap.
func (r *Ring) Join(m Member) (*Ring, error) {
	if memberIndex(r.members, m.ID) >= 0 {
		return nil, fmt.Errorf("%w %q", ErrDuplicateMember, m.ID)
	}
	return r.Update(append(slices.Clone(r.members), m))
}

// Leave returns the next ring without the member id. Its partitions are
// spread over the members that must grow; nothing else moves unless a bad
// window needs a repair swap.
func (r *Ring) Leave(id string) (*Ring, error) {
	i := memberIndex(r.members, id)
	if i < 0 {
		return nil, fmt.Errorf("%w %q", ErrUnknownMember, id)
	}
	if len(r.members) == 1 {
		return nil, fmt.Errorf("%w: %q is the last member", ErrNoMembers, id)
	}
	return r.Update(slices.Delete(slices.Clone(r.members), i, i+1))
}

// Update returns the next ring for a new member set: any mix of joins,
// leaves and changes of zone or weight, applied as one move. If the set
// equals the current one it returns r itself. A removed ID cannot join
// (ErrRemovedMember).
func (r *Ring) Update(members []Member) (*Ring, error) {
	sorted, err := normalize(members, r.cfg.Partitions)
	if err != nil {
		return nil, err
	}
	if slices.Equal(sorted, r.members) {
		return r, nil
	}
	for _, m := range sorted {
		if r.Removed(m.ID) {
			return nil, fmt.Errorf("%w: %q", ErrRemovedMember, m.ID)
		}
	}
	renumber := make([]int32, len(r.members))
	for i, m := range r.members {
		renumber[i] = int32(memberIndex(sorted, m.ID)) // hole when gone
	}
	prev := make([]int32, len(r.owners))
	for p, o := range r.owners {
		prev[p] = renumber[o]
	}
	next := assemble(r.cfg, sorted, narrow(place(r.cfg, sorted, prev)), r.version+1, r.removed)
	return next, nil
}

// Remove returns the next ring without the members ids, which can never
// be members again: for nodes that are gone for good (their disks lost,
// or never to be restarted), whose partitions the others must rebuild
// from the surviving replicas. members is the rest of the change, as for
// Update (other joins, leaves, zone and weight changes at once); it must
// not hold any of ids. Removing an ID that is no member records it all
// the same.
func (r *Ring) Remove(members []Member, ids ...string) (*Ring, error) {
	removed := slices.Clone(r.removed)
	for _, id := range ids {
		if len(id) == 0 || len(id) > MaxNameLen {
			return nil, fmt.Errorf("%w: %q", ErrMemberID, id)
		}
		if slices.ContainsFunc(members, func(m Member) bool { return m.ID == id }) {
			return nil, fmt.Errorf("%w: %q both stays and is removed", ErrDuplicateMember, id)
		}
		if !slices.Contains(removed, id) {
			removed = append(removed, id)
		}
	}
	slices.Sort(removed)
	next, err := r.Update(members)
	if err != nil || len(removed) == len(r.removed) {
		return next, err
	}
	if next == r { // same members: the removed set alone changes
		return assemble(r.cfg, r.members, r.owners, r.version+1, removed), nil
	}
	return assemble(next.cfg, next.members, next.owners, next.version, removed), nil
}

// Removed reports whether id was removed (Remove) from this ring or an
// earlier one: it may never be a member again.
func (r *Ring) Removed(id string) bool {
	_, ok := slices.BinarySearch(r.removed, id)
	return ok
}

// RemovedIDs returns every removed ID, sorted.
func (r *Ring) RemovedIDs() []string { return slices.Clone(r.removed) }

func narrow(owners []int32) []uint16 {
	out := make([]uint16, len(owners))
	for i, o := range owners {
		out[i] = uint16(o)
	}
	return out
}

// assemble derives everything a ring serves from its owners table.
func assemble(cfg Config, members []Member, owners []uint16, version uint64, removed []string) *Ring {
	r := &Ring{cfg: cfg, version: version, shift: 64 - cfg.log2(), members: members, owners: owners, removed: removed}
	var zoneOf []int32
	r.zones, zoneOf = zoneIndex(members)
	r.zoneOf = make([]uint16, len(members))
	for i, z := range zoneOf {
		r.zoneOf[i] = uint16(z)
	}
	owned := r.ownedCounts()
	r.zoneSize = make([]int32, len(r.zones))
	for m, n := range owned {
		if n > 0 {
			r.zoneSize[r.zoneOf[m]]++
		} else {
			r.idle = append(r.idle, uint16(m))
		}
	}
	for _, size := range r.zoneSize {
		if size == 0 {
			r.emptyZones++
		}
	}
	r.depth = min(len(members), 2*cfg.Replicas)
	r.prefs = make([]uint16, len(owners)*r.depth)
	r.buildPrefs()
	r.enc = r.encode()
	r.fingerprint = HashKey(r.enc)
	return r
}

func (r *Ring) ownedCounts() []int {
	owned := make([]int, len(r.members))
	for _, o := range r.owners {
		owned[o]++
	}
	return owned
}

// Version is the ring's version: 1 for New, one more for each change. It
// orders rings derived from one another; the cluster must let one node at a
// time derive changes (a claimant) so two different rings never share a
// version. Fingerprint tells such rings apart.
func (r *Ring) Version() uint64 { return r.version }

// Fingerprint is a 64-bit hash of the ring's encoding: equal rings have
// equal fingerprints. Small enough for gossip metadata.
func (r *Ring) Fingerprint() uint64 { return r.fingerprint }

// Config returns the partition count and replication factor.
func (r *Ring) Config() Config { return r.cfg }

// Partitions is Q.
func (r *Ring) Partitions() int { return len(r.owners) }

// Len is the number of members.
func (r *Ring) Len() int { return len(r.members) }

// Members returns a copy of the members, sorted by ID.
func (r *Ring) Members() []Member { return slices.Clone(r.members) }

// Member returns the member with the given ID.
func (r *Ring) Member(id string) (Member, bool) {
	if i := memberIndex(r.members, id); i >= 0 {
		return r.members[i], true
	}
	return Member{}, false
}

// Zones returns the distinct zones of the members, sorted.
func (r *Ring) Zones() []string { return slices.Clone(r.zones) }

// Partition returns the partition of a key hash (see HashKey): its top
// log2(Q) bits.
func (r *Ring) Partition(hash uint64) int { return int(hash >> r.shift) }

// KeyPartition returns the partition of a key. Hash once per request with
// HashKey and use Partition when the hash is needed elsewhere too.
func (r *Ring) KeyPartition(key []byte) int { return r.Partition(HashKey(key)) }

// PartitionRange returns the hashes of partition p: lo inclusive, hi
// exclusive. For the last partition hi is 0, meaning the end of the hash
// space (2^64 does not fit in a uint64), so a byte-bounded scan of p is
//
//	lower: prefix | lo (8 bytes, big endian)
//	upper: prefix | hi (big endian), or the end of prefix when hi == 0
func (r *Ring) PartitionRange(p int) (lo, hi uint64) {
	return uint64(p) << r.shift, uint64(p+1) << r.shift
}

// Owner returns the member that owns partition p (the head of its
// preference list). It panics if p is out of range.
func (r *Ring) Owner(p int) string { return r.members[r.owners[p]].ID }

// Owners returns the owner of every partition, indexed by partition.
func (r *Ring) Owners() []string {
	out := make([]string, len(r.owners))
	for p, o := range r.owners {
		out[p] = r.members[o].ID
	}
	return out
}

// PreferenceList appends to dst the n members that hold partition p's
// replicas, in preference order (see doc.go): distinct members, spread over
// min(n, zones) zones, and a prefix of ExtendedList. It does not allocate
// when dst has room and n <= 2·Replicas. Errors: ErrPartition,
// ErrTooFewMembers (n larger than the membership), ErrReplicas (n < 1).
func (r *Ring) PreferenceList(p, n int, dst []string) ([]string, error) {
	if uint(p) >= uint(len(r.owners)) {
		return dst, ErrPartition
	}
	if n < 1 {
		return dst, ErrReplicas
	}
	if n > len(r.members) {
		return dst, ErrTooFewMembers
	}
	if n <= r.depth {
		for _, m := range r.prefs[p*r.depth : p*r.depth+n] {
			dst = append(dst, r.members[m].ID)
		}
		return dst, nil
	}
	for _, m := range newWalker(r).order(p, n, make([]uint16, 0, n)) {
		dst = append(dst, r.members[m].ID)
	}
	return dst, nil
}

// ExtendedList appends every member to dst in partition p's preference
// order: the first N are its replicas, the rest are the fallbacks a sloppy
// quorum uses, nearest first. Each member appears once.
func (r *Ring) ExtendedList(p int, dst []string) ([]string, error) {
	return r.PreferenceList(p, len(r.members), dst)
}

// Replicated returns, in order, the partitions whose first Replicas
// preference entries include member id: what the member stores. It returns
// nil for an unknown member.
func (r *Ring) Replicated(id string) []int {
	m := memberIndex(r.members, id)
	if m < 0 {
		return nil
	}
	n := min(r.cfg.Replicas, len(r.members))
	var out []int
	for p := range r.owners {
		if slices.Contains(r.prefs[p*r.depth:p*r.depth+n], uint16(m)) {
			out = append(out, p)
		}
	}
	return out
}
