package ring

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Member is one node of the ring as placement sees it.
type Member struct {
	// ID names the node uniquely and forever (1 to MaxNameLen bytes).
	// Rings order members by ID, so placement never depends on the order
	// members were listed or learned in.
	ID string
	// Zone is the node's failure domain (rack, availability zone). Nodes
	// that declare no zone share the zone "". Preference lists spread over
	// as many zones as they can before they repeat one.
	Zone string
	// Weight is the node's capacity: it owns about Q·Weight/ΣWeight
	// partitions. It must be positive and finite.
	Weight float64
}

func (m Member) validate() error {
	if len(m.ID) == 0 || len(m.ID) > MaxNameLen {
		return fmt.Errorf("%w (got %d bytes)", ErrMemberID, len(m.ID))
	}
	if len(m.Zone) > MaxNameLen {
		return fmt.Errorf("%w (member %q)", ErrZone, m.ID)
	}
	if !(m.Weight > 0) || math.IsInf(m.Weight, 1) {
		return fmt.Errorf("%w (member %q has %v)", ErrWeight, m.ID, m.Weight)
	}
	return nil
}

// normalize validates members and returns a copy sorted by ID.
func normalize(members []Member, partitions int) ([]Member, error) {
	if len(members) == 0 {
		return nil, ErrNoMembers
	}
	if len(members) > partitions {
		return nil, fmt.Errorf("%w (%d members, %d partitions)", ErrTooManyMembers, len(members), partitions)
	}
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	for i, m := range sorted {
		if err := m.validate(); err != nil {
			return nil, err
		}
		if i > 0 && sorted[i-1].ID == m.ID {
			return nil, fmt.Errorf("%w %q", ErrDuplicateMember, m.ID)
		}
	}
	return sorted, nil
}

// zoneIndex returns the sorted distinct zones of members and each member's
// index into them.
func zoneIndex(members []Member) (zones []string, zoneOf []int32) {
	for _, m := range members {
		zones = append(zones, m.Zone)
	}
	slices.Sort(zones)
	zones = slices.Compact(zones)
	zoneOf = make([]int32, len(members))
	for i, m := range members {
		z, _ := slices.BinarySearch(zones, m.Zone)
		zoneOf[i] = int32(z)
	}
	return zones, zoneOf
}

// memberIndex returns the index of id in members sorted by ID, or -1.
func memberIndex(members []Member, id string) int {
	i, ok := slices.BinarySearchFunc(members, id, func(m Member, id string) int { return cmp.Compare(m.ID, id) })
	if !ok {
		return -1
	}
	return i
}
