package workload

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"
)

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 42)) }

// within reports whether an observed count is within z standard deviations
// of the binomial expectation for n draws at probability p.
func within(t *testing.T, what string, observed int, n int, p, z float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if math.Abs(float64(observed)-mean) > z*sd+1 {
		t.Errorf("%s: observed %d, expected %.1f ± %.1f (%.0fσ)", what, observed, mean, z*sd, z)
	}
}

func TestZipfFitsTheoreticalFrequencies(t *testing.T) {
	const draws = 1_000_000
	for _, tc := range []struct {
		n     uint64
		theta float64
	}{
		{1000, 0.99}, {1000, 0.5}, {100_000, 0.99}, {50, 1.0}, {10_000, 1.3}, {1, 0.99},
	} {
		z, err := NewZipf(tc.n, tc.theta)
		if err != nil {
			t.Fatal(err)
		}
		r := seeded(7)
		counts := map[uint64]int{}
		for range draws {
			k := z.Next(r)
			if k >= tc.n {
				t.Fatalf("n=%d theta=%g: rank %d out of range", tc.n, tc.theta, k)
			}
			counts[k]++
		}
		// 5σ per rank: with 10 ranks checked, a correct generator fails
		// with probability ~6e-6; the seed is fixed anyway.
		for rank := uint64(0); rank < min(10, tc.n); rank++ {
			p := ZipfProbability(tc.n, tc.theta, rank)
			within(t, "rank "+itoa(rank)+" n="+itoa(tc.n)+" theta="+ftoa(tc.theta), counts[rank], draws, p, 5)
		}
		// The mass of ranks 10..99 as one cell checks the body of the curve.
		if tc.n > 100 {
			var p float64
			var got int
			for rank := uint64(10); rank < 100; rank++ {
				p += ZipfProbability(tc.n, tc.theta, rank)
				got += counts[rank]
			}
			within(t, "ranks 10-99 theta="+ftoa(tc.theta), got, draws, p, 5)
		}
	}
}

// A generator with the wrong constant must fail the same check: the test can
// tell 0.99 from 0.9.
func TestZipfCheckDistinguishesTheta(t *testing.T) {
	z, _ := NewZipf(1000, 0.9)
	r := seeded(7)
	var top int
	const draws = 200_000
	for range draws {
		if z.Next(r) == 0 {
			top++
		}
	}
	p := ZipfProbability(1000, 0.99, 0)
	sd := math.Sqrt(draws * p * (1 - p))
	if math.Abs(float64(top)-draws*p) <= 5*sd {
		t.Fatalf("theta 0.9 sample indistinguishable from theta 0.99 at rank 0: %d vs %.0f", top, draws*p)
	}
}

func TestScrambledZipfKeepsFrequencies(t *testing.T) {
	const n, draws = 10_000, 500_000
	kc, err := NewKeyChooser(KeySpec{Distribution: Zipfian, Keys: n, Scrambled: true})
	if err != nil {
		t.Fatal(err)
	}
	r := seeded(3)
	counts := make([]int, n)
	for range draws {
		counts[kc.Next(r)]++
	}
	if counts[0] > draws/100 {
		t.Errorf("key 0 still hottest after scrambling: %d hits", counts[0])
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	for rank := range uint64(3) {
		within(t, "scrambled rank "+itoa(rank), counts[rank], draws, ZipfProbability(n, 0.99, rank), 5)
	}
}

func TestPermutationIsBijection(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 5, 17, 1000, 4096, 100_003} {
		p := NewPermutation(n, 99)
		seen := make([]bool, n)
		for x := range n {
			y := p.Map(x)
			if y >= n || seen[y] {
				t.Fatalf("n=%d: Map(%d)=%d repeats or leaves the range", n, x, y)
			}
			seen[y] = true
		}
	}
}

func TestHotSpotSplit(t *testing.T) {
	const n, draws = 1000, 400_000
	for _, tc := range []struct{ keyFrac, opFrac float64 }{{0.2, 0.8}, {0.01, 0.99}, {0.5, 0.1}} {
		kc, err := NewKeyChooser(KeySpec{Distribution: HotSpot, Keys: n, HotKeyFraction: tc.keyFrac, HotOpFraction: tc.opFrac})
		if err != nil {
			t.Fatal(err)
		}
		hot := uint64(n * tc.keyFrac)
		r := seeded(11)
		var inHot int
		perKey := make([]int, n)
		for range draws {
			k := kc.Next(r)
			if k >= n {
				t.Fatalf("key %d out of range", k)
			}
			perKey[k]++
			if k < hot {
				inHot++
			}
		}
		within(t, "hot-set share "+ftoa(tc.opFrac), inHot, draws, tc.opFrac, 5)
		// Uniform inside each set: the first hot key and the first cold key.
		within(t, "one hot key", perKey[0], draws, tc.opFrac/float64(hot), 5)
		within(t, "one cold key", perKey[hot], draws, (1-tc.opFrac)/float64(n-hot), 5)
	}
}

func TestKeySpecErrors(t *testing.T) {
	for _, spec := range []KeySpec{
		{Keys: 0},
		{Distribution: "pareto", Keys: 10},
		{Distribution: Zipfian, Keys: 10, ZipfTheta: -1},
		{Distribution: HotSpot, Keys: 10, HotKeyFraction: 1.5},
		{Distribution: HotSpot, Keys: 3, HotKeyFraction: 0.1},
	} {
		if _, err := NewKeyChooser(spec); !errors.Is(err, ErrBadSpec) {
			t.Errorf("%+v: got %v, want ErrBadSpec", spec, err)
		}
	}
}

func TestUniformCoversKeySpace(t *testing.T) {
	kc, _ := NewKeyChooser(KeySpec{Keys: 10})
	r := seeded(1)
	counts := make([]int, 10)
	for range 100_000 {
		counts[kc.Next(r)]++
	}
	for k, c := range counts {
		within(t, "uniform key "+itoa(uint64(k)), c, 100_000, 0.1, 5)
	}
}

func TestMixFrequencies(t *testing.T) {
	m, err := ParseMix("get=10, set=1,delete=2,cart=0")
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != "get=10,set=1,delete=2" {
		t.Errorf("String() = %q", m.String())
	}
	c := NewChooser(m)
	r := seeded(5)
	var counts [NumOps]int
	const draws = 130_000
	for range draws {
		counts[c.Next(r)]++
	}
	if counts[Cart] != 0 {
		t.Errorf("zero-weight op drawn %d times", counts[Cart])
	}
	within(t, "get", counts[Get], draws, 10.0/13, 5)
	within(t, "set", counts[Set], draws, 1.0/13, 5)
	within(t, "delete", counts[Delete], draws, 2.0/13, 5)
}

func TestParseMixErrors(t *testing.T) {
	for _, s := range []string{"", "get", "get=x", "fetch=1", "get=0,set=0", "get=-1"} {
		if _, err := ParseMix(s); !errors.Is(err, ErrBadSpec) {
			t.Errorf("ParseMix(%q) = %v, want ErrBadSpec", s, err)
		}
	}
}

func TestValueSizes(t *testing.T) {
	for _, tc := range []struct {
		in       string
		min, max int
		bad      bool
	}{
		{"100", 100, 100, false}, {"0", 0, 0, false}, {"64-1024", 64, 1024, false},
		{"10-5", 0, 0, true}, {"-3", 0, 0, true}, {"x", 0, 0, true}, {"2000000", 0, 0, true},
	} {
		sr, err := ParseSizeRange(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadSpec) {
				t.Errorf("%q: got %v, want ErrBadSpec", tc.in, err)
			}
			continue
		}
		if err != nil || sr.Min != tc.min || sr.Max != tc.max {
			t.Fatalf("%q: got %+v, %v", tc.in, sr, err)
		}
		r := seeded(2)
		p := NewPayload(sr.Max, 1)
		seenMin, seenMax := false, false
		sum := 0
		const draws = 20_000
		for range draws {
			n := sr.Next(r)
			if n < sr.Min || n > sr.Max || len(p.Value(r, n)) != n {
				t.Fatalf("%q: size %d", tc.in, n)
			}
			seenMin = seenMin || n == sr.Min
			seenMax = seenMax || n == sr.Max
			sum += n
		}
		if !seenMin || !seenMax {
			t.Errorf("%q: bounds not both drawn (min %v max %v)", tc.in, seenMin, seenMax)
		}
		mean := float64(sum) / draws
		want := float64(sr.Min+sr.Max) / 2
		sd := math.Sqrt((math.Pow(float64(sr.Max-sr.Min+1), 2) - 1) / 12 / draws)
		if math.Abs(mean-want) > 5*sd+1e-9 {
			t.Errorf("%q: mean size %.2f, want %.2f ± %.2f", tc.in, mean, want, 5*sd)
		}
	}
}

func TestCartItems(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []uint32
	}{
		{"", nil},
		{"3,17,42", []uint32{3, 17, 42}},
		{"abcdef", nil},
		{"x12,5", []uint32{5}},
		{"7,,8,", []uint32{7, 8}},
		{"4294967295,4294967296,99999999999", []uint32{4294967295}},
	} {
		got := AppendItems(nil, []byte(tc.in))
		if !slices.Equal(got, tc.want) {
			t.Errorf("AppendItems(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	items := AppendItems(nil, []byte("5,1,9"))
	items = AppendItems(items, []byte("9,2"))
	items = MergeItems(items)
	if !slices.Equal(items, []uint32{1, 2, 5, 9}) {
		t.Fatalf("merge = %v", items)
	}
	items = AddItem(items, 4, 10)
	if got := string(EncodeItems(nil, items)); got != "1,2,4,5,9" {
		t.Fatalf("encode = %q", got)
	}
	if got := AddItem(items, 7, 5); !slices.Equal(got, []uint32{7}) {
		t.Fatalf("full cart not checked out: %v", got)
	}
}

func TestAppendKey(t *testing.T) {
	if got := string(AppendKey([]byte("x"), "key:", 1234)); got != "xkey:1234" {
		t.Fatalf("got %q", got)
	}
}

func BenchmarkZipf(b *testing.B) {
	z, _ := NewZipf(10_000_000, 0.99)
	r := seeded(1)
	b.ReportAllocs()
	for b.Loop() {
		z.Next(r)
	}
}

func BenchmarkScrambledZipf(b *testing.B) {
	kc, _ := NewKeyChooser(KeySpec{Distribution: Zipfian, Keys: 10_000_000, Scrambled: true})
	r := seeded(1)
	b.ReportAllocs()
	for b.Loop() {
		kc.Next(r)
	}
}

func itoa(x uint64) string { return strconv.FormatUint(x, 10) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
