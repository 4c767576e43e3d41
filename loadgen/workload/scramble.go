package workload

import "math/bits"

// Permutation is a pseudo-random bijection of [0, n): a four-round Feistel
// network over the smallest even-width power of two covering n, cycle-walked
// back into range. Scrambling zipfian ranks through a bijection (rather than
// YCSB's hash-mod-n, which collides) keeps every rank's frequency intact.
type Permutation struct {
	n        uint64
	halfBits uint
	mask     uint64
	keys     [4]uint64
}

// NewPermutation returns the permutation of [0, n) selected by seed.
func NewPermutation(n, seed uint64) Permutation {
	width := uint(bits.Len64(n - 1))
	if width < 2 {
		width = 2
	}
	width += width & 1
	p := Permutation{n: n, halfBits: width / 2, mask: 1<<(width/2) - 1}
	for i := range p.keys {
		seed = mix64(seed + uint64(i) + 1)
		p.keys[i] = seed
	}
	return p
}

// Map returns the image of x, which must be below n.
func (p Permutation) Map(x uint64) uint64 {
	if p.n <= 1 {
		return 0
	}
	for {
		x = p.encrypt(x)
		if x < p.n { // the domain is under 4n, so this loops fewer than 4 times on average
			return x
		}
	}
}

func (p Permutation) encrypt(x uint64) uint64 {
	left, right := x>>p.halfBits, x&p.mask
	for _, k := range p.keys {
		left, right = right, left^(mix64(right^k)&p.mask)
	}
	return left<<p.halfBits | right
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
