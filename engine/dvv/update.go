package dvv

// NextDot is the dot a write coordinated by actor a gets, given the key's
// clock on that node and the write's context. Taking the context into
// account keeps dots unique even when the context has seen more of a's
// writes than this replica holds (after a restore, say). The engine picks
// a: an actor whose every earlier write to the key this node still holds
// (see engine's actor epochs), or one never used for the key.
func NextDot(clock Clock, ctx Context, a Actor) Dot {
	n := max(clock.Get(a), ctx.Clock.Get(a))
	for _, d := range ctx.Dots {
		if d.Actor == a {
			n = max(n, d.Counter)
		}
	}
	return Dot{Actor: a, Counter: n + 1}
}

// Survives reports whether an existing sibling with dot d stays beside a
// write whose context is ctx: only versions the writer did not see remain.
func Survives(ctx Context, d Dot) bool { return !ctx.Covers(d) }

// Advance returns the key's clock after a write with context clock ctx
// got dot d: join(clock, ctx) raised to d. dst must not alias clock or
// ctx. The context's separate dots are not folded in: the write
// supersedes them (if this node holds them) but the record's clock
// claims only what it knows, so at worst a superseded version this node
// never held survives elsewhere as a sibling.
func Advance(dst, clock, ctx Clock, d Dot) Clock {
	dst = Join(dst, clock, ctx)
	i, ok := dst.find(d.Actor)
	if ok {
		dst[i].Counter = max(dst[i].Counter, d.Counter)
		return dst
	}
	dst = append(dst, Entry{})
	copy(dst[i+1:], dst[i:])
	dst[i] = Entry{d.Actor, d.Counter}
	return dst
}

// Merge reconciles two replicas' states of one key (anti-entropy, read
// repair, handoff). It fills keepA and keepB, which must be as long as
// dotsA and dotsB, with the siblings that survive from each side, and
// returns the merged clock in dst (which must alias neither clock).
//
// A sibling survives if the other side also holds it or has not seen it.
// A dot held by both sides is kept once, from side A; dots are unique, so
// both copies carry the same payload.
func Merge(dst, clockA Clock, dotsA []Dot, clockB Clock, dotsB []Dot, keepA, keepB []bool) Clock {
	for i, d := range dotsA {
		keepA[i] = !clockB.Covers(d) || contains(dotsB, d)
	}
	for j, d := range dotsB {
		keepB[j] = !clockA.Covers(d) && !contains(dotsA, d)
	}
	return Join(dst, clockA, clockB)
}

// contains is a linear scan: sibling sets are small (bounded per key).
func contains(ds []Dot, d Dot) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}
