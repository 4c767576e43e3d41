package ring

import (
	"fmt"
	"testing"
)

func BenchmarkPartition(b *testing.B) {
	r := mustNew(b, Config{}, equalMembers(64, 0))
	hash := HashKey([]byte("user:42"))
	sum := 0
	for b.Loop() {
		sum += r.Partition(hash)
		hash += 0x9e3779b97f4a7c15
	}
	_ = sum
}

func BenchmarkPreferenceList(b *testing.B) {
	for _, tt := range []struct{ q, members, zones, n int }{
		{1024, 64, 0, 3}, {1024, 64, 3, 3}, {65536, 1000, 3, 3}, {1024, 64, 3, 6}, {1024, 64, 3, 7},
	} {
		b.Run(fmt.Sprintf("Q%d-members%d-zones%d-n%d", tt.q, tt.members, tt.zones, tt.n), func(b *testing.B) {
			r := mustNew(b, Config{Partitions: tt.q}, equalMembers(tt.members, tt.zones))
			dst := make([]string, 0, tt.n)
			b.ReportAllocs()
			p := 0
			for b.Loop() {
				dst, _ = r.PreferenceList(p, tt.n, dst[:0])
				p = (p + 1) & (tt.q - 1)
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for _, tt := range []struct{ q, members, zones int }{{1024, 64, 0}, {1024, 64, 3}, {65536, 1000, 0}, {65536, 1000, 3}} {
		b.Run(fmt.Sprintf("Q%d-members%d-zones%d", tt.q, tt.members, tt.zones), func(b *testing.B) {
			ms := equalMembers(tt.members, tt.zones)
			b.ReportAllocs()
			for b.Loop() {
				mustNew(b, Config{Partitions: tt.q}, ms)
			}
		})
	}
}

func BenchmarkJoin(b *testing.B) {
	for _, tt := range []struct{ q, members int }{{1024, 64}, {65536, 1000}} {
		b.Run(fmt.Sprintf("Q%d-members%d", tt.q, tt.members), func(b *testing.B) {
			r := mustNew(b, Config{Partitions: tt.q}, equalMembers(tt.members, 0))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Join(Member{ID: "new", Weight: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	enc := mustNew(b, Config{Partitions: 1024}, equalMembers(64, 3)).Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
