package workload

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// MaxValueSize is the largest value a workload writes: memcached's default
// item size limit.
const MaxValueSize = 1 << 20

// SizeRange draws value sizes uniformly from [Min, Max]; Min == Max is a
// fixed size.
type SizeRange struct{ Min, Max int }

// DefaultSize is 100-byte values.
var DefaultSize = SizeRange{Min: 100, Max: 100}

// ParseSizeRange reads "100" (fixed) or "64-1024" (uniform, inclusive).
func ParseSizeRange(s string) (SizeRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	minSize, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return SizeRange{}, fmt.Errorf("%w: value size %q is not N or MIN-MAX", ErrBadSpec, s)
	}
	maxSize := minSize
	if isRange {
		if maxSize, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return SizeRange{}, fmt.Errorf("%w: value size %q is not N or MIN-MAX", ErrBadSpec, s)
		}
	}
	r := SizeRange{Min: minSize, Max: maxSize}
	return r, r.Validate()
}

// Validate checks 0 <= Min <= Max <= MaxValueSize.
func (s SizeRange) Validate() error {
	if s.Min < 0 || s.Max < s.Min || s.Max > MaxValueSize {
		return fmt.Errorf("%w: value size range %d-%d must satisfy 0 <= min <= max <= %d",
			ErrBadSpec, s.Min, s.Max, MaxValueSize)
	}
	return nil
}

// Next draws a size.
func (s SizeRange) Next(r *rand.Rand) int {
	if s.Min == s.Max {
		return s.Min
	}
	return s.Min + r.IntN(s.Max-s.Min+1)
}

func (s SizeRange) String() string {
	if s.Min == s.Max {
		return strconv.Itoa(s.Min)
	}
	return strconv.Itoa(s.Min) + "-" + strconv.Itoa(s.Max)
}

// Payload is a read-only block of lowercase letters that values are sliced
// from, so writing a value allocates nothing. Letters keep values printable
// and free of digits, so a cart parser reads a non-cart value as empty.
type Payload []byte

// NewPayload returns a payload able to supply values up to maxSize bytes at
// varied offsets.
func NewPayload(maxSize int, seed uint64) Payload {
	r := rand.New(rand.NewPCG(seed, 0x9a71))
	p := make(Payload, maxSize+4096)
	for i := range p {
		p[i] = 'a' + byte(r.IntN(26))
	}
	return p
}

// Value returns size bytes of the payload at a random offset.
func (p Payload) Value(r *rand.Rand, size int) []byte {
	off := r.IntN(len(p) - size + 1)
	return p[off : off+size]
}
