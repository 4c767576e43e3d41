package workload

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Op is a user-level operation of the workload.
type Op uint8

// The operations. A Cart is one read-modify-write: getv, merge, putv.
const (
	Get Op = iota
	Set
	Delete
	Cart
	NumOps
)

var opNames = [NumOps]string{"get", "set", "delete", "cart"}

func (o Op) String() string {
	if o < NumOps {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Mix is the relative weight of each operation.
type Mix [NumOps]uint32

// DefaultMix is 9 gets to 1 set.
var DefaultMix = Mix{Get: 9, Set: 1}

// ParseMix reads "get=10,set=1[,delete=0][,cart=0]". Omitted ops weigh 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		name, weight, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return m, fmt.Errorf("%w: mix entry %q is not op=weight", ErrBadSpec, part)
		}
		op, err := parseOp(strings.TrimSpace(name))
		if err != nil {
			return m, err
		}
		w, err := strconv.ParseUint(strings.TrimSpace(weight), 10, 32)
		if err != nil || w > 1_000_000 {
			return m, fmt.Errorf("%w: mix weight %q of %s is not an integer in 0..1000000", ErrBadSpec, weight, op)
		}
		m[op] = uint32(w)
	}
	return m, m.Validate()
}

func parseOp(name string) (Op, error) {
	for i, n := range opNames {
		if n == name {
			return Op(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown op %q in mix (want get, set, delete or cart)", ErrBadSpec, name)
}

// Validate reports a mix whose weights are all zero.
func (m Mix) Validate() error {
	if m.total() == 0 {
		return fmt.Errorf("%w: mix has no operation with a positive weight", ErrBadSpec)
	}
	return nil
}

func (m Mix) total() uint64 {
	var t uint64
	for _, w := range m {
		t += uint64(w)
	}
	return t
}

// String formats the mix as ParseMix reads it, zero weights omitted.
func (m Mix) String() string {
	var b strings.Builder
	for op, w := range m {
		if w == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(opNames[op])
		b.WriteByte('=')
		b.WriteString(strconv.FormatUint(uint64(w), 10))
	}
	return b.String()
}

// Chooser draws operations according to a mix.
type Chooser struct {
	cumulative [NumOps]uint64
	total      uint64
}

// NewChooser returns a chooser for m, which must be valid.
func NewChooser(m Mix) Chooser {
	var c Chooser
	for op, w := range m {
		c.total += uint64(w)
		c.cumulative[op] = c.total
	}
	return c
}

// Next draws an operation.
func (c *Chooser) Next(r *rand.Rand) Op {
	x := r.Uint64N(c.total)
	for op, upTo := range c.cumulative {
		if x < upTo {
			return Op(op)
		}
	}
	panic("workload: chooser used with an empty mix")
}
