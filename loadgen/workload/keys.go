package workload

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// ErrBadSpec is returned (wrapped) for an invalid workload parameter.
var ErrBadSpec = errors.New("workload: bad spec")

// KeyChooser draws key indexes in [0, Keys()).
type KeyChooser interface {
	Next(r *rand.Rand) uint64
	Keys() uint64
}

// Distribution names a key distribution.
type Distribution string

// The key distributions.
const (
	Uniform Distribution = "uniform"
	Zipfian Distribution = "zipfian"
	HotSpot Distribution = "hotspot"
)

// KeySpec describes a key distribution. Zero fields take the defaults named
// on each field.
type KeySpec struct {
	Distribution Distribution // default Uniform
	Keys         uint64       // size of the key space; required, > 0
	// ZipfTheta is the zipfian constant (YCSB's "zipfian constant"):
	// P(rank k) is proportional to 1/k^ZipfTheta. Default 0.99, as YCSB.
	ZipfTheta float64
	// Scrambled spreads the popular zipfian ranks over the key space instead
	// of making key 0 the hottest. Default false.
	Scrambled bool
	// HotKeyFraction of the keys receive HotOpFraction of the operations
	// (YCSB's hotspot generator). Defaults 0.2 and 0.8.
	HotKeyFraction float64
	HotOpFraction  float64
}

// NewKeyChooser validates spec and builds its generator.
func NewKeyChooser(spec KeySpec) (KeyChooser, error) {
	if spec.Keys == 0 {
		return nil, fmt.Errorf("%w: key space must hold at least one key", ErrBadSpec)
	}
	switch spec.Distribution {
	case Uniform, "":
		return uniformKeys{n: spec.Keys}, nil
	case Zipfian:
		theta := spec.ZipfTheta
		if theta == 0 {
			theta = 0.99
		}
		z, err := NewZipf(spec.Keys, theta)
		if err != nil {
			return nil, err
		}
		if !spec.Scrambled {
			return z, nil
		}
		return scrambledKeys{z: z, p: NewPermutation(spec.Keys, 0x5eed)}, nil
	case HotSpot:
		return newHotSpot(spec)
	}
	return nil, fmt.Errorf("%w: distribution %q is not uniform, zipfian or hotspot", ErrBadSpec, spec.Distribution)
}

type uniformKeys struct{ n uint64 }

func (u uniformKeys) Next(r *rand.Rand) uint64 { return r.Uint64N(u.n) }
func (u uniformKeys) Keys() uint64             { return u.n }

type scrambledKeys struct {
	z *Zipf
	p Permutation
}

func (s scrambledKeys) Next(r *rand.Rand) uint64 { return s.p.Map(s.z.Next(r)) }
func (s scrambledKeys) Keys() uint64             { return s.z.Keys() }

// hotSpotKeys sends opFraction of draws uniformly into the first hotKeys keys
// and the rest uniformly into the others.
type hotSpotKeys struct {
	n, hot     uint64
	opFraction float64
}

func newHotSpot(spec KeySpec) (KeyChooser, error) {
	keyFrac, opFrac := spec.HotKeyFraction, spec.HotOpFraction
	if keyFrac == 0 {
		keyFrac = 0.2
	}
	if opFrac == 0 {
		opFrac = 0.8
	}
	if keyFrac <= 0 || keyFrac >= 1 || opFrac < 0 || opFrac > 1 {
		return nil, fmt.Errorf("%w: hot-spot fractions must satisfy 0<keys<1 and 0<=ops<=1, got keys=%g ops=%g",
			ErrBadSpec, keyFrac, opFrac)
	}
	hot := uint64(float64(spec.Keys) * keyFrac)
	if hot == 0 || hot == spec.Keys {
		return nil, fmt.Errorf("%w: hot-spot fraction %g of %d keys leaves an empty hot or cold set",
			ErrBadSpec, keyFrac, spec.Keys)
	}
	return hotSpotKeys{n: spec.Keys, hot: hot, opFraction: opFrac}, nil
}

func (h hotSpotKeys) Next(r *rand.Rand) uint64 {
	if r.Float64() < h.opFraction {
		return r.Uint64N(h.hot)
	}
	return h.hot + r.Uint64N(h.n-h.hot)
}

func (h hotSpotKeys) Keys() uint64 { return h.n }

// HotKeys is the size of the hot set (keys [0, HotKeys()) are hot).
func (h hotSpotKeys) HotKeys() uint64 { return h.hot }
