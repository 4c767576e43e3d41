package ring

import (
	"fmt"
	"math/bits"
)

// Limits of a ring. They keep member indexes in 16 bits and preference
// windows in small stack arrays.
const (
	// MaxPartitions is the largest partition count Q.
	MaxPartitions = 1 << 16
	// MaxReplicas is the largest replication factor N a ring is tuned for.
	MaxReplicas = 16
	// MaxNameLen is the longest member ID or zone name, in bytes.
	MaxNameLen = 255
)

// Defaults applied to zero Config fields.
const (
	DefaultPartitions = 1024
	DefaultReplicas   = 3
)

// Config is what a cluster fixes once, at creation; every later ring
// (Join, Leave, Update) keeps it. Zero fields take the defaults.
type Config struct {
	// Partitions is Q, the number of equal slices of the hash space: a
	// power of two from 1 to MaxPartitions. It cannot change later, so pick
	// it for the largest cluster you expect: at least ~16 partitions per
	// node keeps ownership within a few percent of even (see doc.go).
	// Default 1024.
	Partitions int
	// Replicas is N, the replication factor placement is tuned for: no
	// member appears twice, and zones stay balanced, within any N
	// consecutive partitions, so a partition's N replicas are exactly the
	// owners of it and its N-1 successors and replica load is N times
	// ownership. Preference lists of other lengths can still be asked for.
	// Default 3.
	Replicas int
}

func (c Config) withDefaults() Config {
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	return c
}

func (c Config) validate() error {
	if c.Partitions < 1 || c.Partitions > MaxPartitions || bits.OnesCount(uint(c.Partitions)) != 1 {
		return fmt.Errorf("%w (got %d)", ErrPartitions, c.Partitions)
	}
	if c.Replicas < 1 || c.Replicas > MaxReplicas {
		return fmt.Errorf("%w (got %d)", ErrReplicas, c.Replicas)
	}
	return nil
}

// log2 returns the number of hash bits that name a partition.
func (c Config) log2() uint { return uint(bits.TrailingZeros(uint(c.Partitions))) }
