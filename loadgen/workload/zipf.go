package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Zipf draws ranks 0..n-1 with P(rank i) proportional to 1/(i+1)^theta.
//
// YCSB's ZipfianGenerator (Gray et al.) needs an O(n) zeta sum at start-up and
// is exact only for the two top ranks. This uses rejection-inversion
// (Hörmann and Derflinger, 1996) instead: the same target distribution, exact
// for every rank, O(1) set-up for any key-space size, any theta > 0, and on
// average fewer than 1.1 uniform draws per sample.
type Zipf struct {
	n      uint64
	theta  float64
	hLow   float64 // H(1.5) - h(1): lower end of the inversion range
	hHigh  float64 // H(n + 0.5): upper end
	accept float64 // quick-accept distance below a rank (the squeeze)
}

// NewZipf returns a zipfian generator over n ranks.
func NewZipf(n uint64, theta float64) (*Zipf, error) {
	if n == 0 {
		return nil, fmt.Errorf("%w: zipfian needs at least one key", ErrBadSpec)
	}
	if !(theta > 0) || theta > 100 || math.IsInf(theta, 0) {
		return nil, fmt.Errorf("%w: zipfian constant must be in (0, 100], got %g", ErrBadSpec, theta)
	}
	z := &Zipf{n: n, theta: theta}
	z.hLow = z.bigH(1.5) - 1
	z.hHigh = z.bigH(float64(n) + 0.5)
	z.accept = 2 - z.bigHInv(z.bigH(2.5)-z.h(2))
	return z, nil
}

// Keys is the number of ranks.
func (z *Zipf) Keys() uint64 { return z.n }

// Theta is the zipfian constant.
func (z *Zipf) Theta() float64 { return z.theta }

// Next draws a rank; 0 is the most popular.
func (z *Zipf) Next(r *rand.Rand) uint64 {
	for {
		u := z.hHigh + r.Float64()*(z.hLow-z.hHigh)
		x := z.bigHInv(u)
		k := math.Floor(x + 0.5)
		if k < 1 {
			k = 1
		} else if k > float64(z.n) {
			k = float64(z.n)
		}
		// Each rank k owns the slice [H(k+0.5)-h(k), H(k+0.5)] of the
		// inversion range, exactly h(k) wide; the squeeze accepts most draws
		// without evaluating H.
		if k-x <= z.accept || u >= z.bigH(k+0.5)-z.h(k) {
			return uint64(k) - 1
		}
	}
}

// h is the unnormalised probability of rank x (1-based).
func (z *Zipf) h(x float64) float64 { return math.Exp(-z.theta * math.Log(x)) }

// bigH is an antiderivative of h: (x^(1-theta) - 1)/(1-theta), log x at theta 1,
// written to stay accurate when theta is near 1.
func (z *Zipf) bigH(x float64) float64 {
	lx := math.Log(x)
	return expm1Over((1-z.theta)*lx) * lx
}

// bigHInv inverts bigH.
func (z *Zipf) bigHInv(y float64) float64 {
	t := y * (1 - z.theta)
	if t < -1 {
		t = -1 // rounding can push t past the domain of log1p
	}
	return math.Exp(log1pOver(t) * y)
}

// expm1Over is (e^t - 1)/t with its limit 1 at t = 0.
func expm1Over(t float64) float64 {
	if math.Abs(t) > 1e-8 {
		return math.Expm1(t) / t
	}
	return 1 + t/2*(1+t/3)
}

// log1pOver is log(1+t)/t with its limit 1 at t = 0.
func log1pOver(t float64) float64 {
	if math.Abs(t) > 1e-8 {
		return math.Log1p(t) / t
	}
	return 1 - t*(0.5-t/3)
}

// ZipfProbability is the exact probability of rank i (0-based) among n ranks;
// for tests and reports. It costs O(n).
func ZipfProbability(n uint64, theta float64, i uint64) float64 {
	var zeta float64
	for k := n; k >= 1; k-- { // smallest terms first, for accuracy
		zeta += math.Pow(float64(k), -theta)
	}
	return math.Pow(float64(i+1), -theta) / zeta
}
