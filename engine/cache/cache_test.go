package cache

import (
	"fmt"
	"sync"
	"testing"
)

func TestGetSetDelete(t *testing.T) {
	c := New(1 << 20)
	if _, ok := c.Get([]byte("a"), nil); ok {
		t.Fatal("hit on empty cache")
	}
	c.Set([]byte("a"), []byte("1"))
	c.Set([]byte("a"), []byte("22")) // replace
	if v, ok := c.Get([]byte("a"), []byte("x")); !ok || string(v) != "x22" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	c.Delete([]byte("a"))
	if _, ok := c.Get([]byte("a"), nil); ok {
		t.Fatal("hit after delete")
	}
	st := c.Stats()
	if st.Entries != 0 || st.Bytes != 0 || st.Hits != 1 || st.Misses != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSetCopiesValue(t *testing.T) {
	c := New(1 << 20)
	v := []byte("abc")
	c.Set([]byte("k"), v)
	v[0] = 'X'
	if got, _ := c.Get([]byte("k"), nil); string(got) != "abc" {
		t.Fatalf("cache aliases the caller's slice: %q", got)
	}
}

func TestBoundAndSecondChance(t *testing.T) {
	const capacity = 64 * 1024
	c := New(capacity)
	val := make([]byte, 100)
	hot := []byte("hot")
	c.Set(hot, val)
	for i := range 5000 {
		c.Set([]byte(fmt.Sprint("cold", i)), val)
		c.Get(hot, nil) // keep touching the hot key
		if st := c.Stats(); st.Bytes > capacity {
			t.Fatalf("cache holds %d bytes, bound %d", st.Bytes, capacity)
		}
	}
	if _, ok := c.Get(hot, nil); !ok {
		t.Fatal("a key referenced between every pass of the clock was evicted")
	}
	if st := c.Stats(); st.Evictions == 0 || st.Entries == 0 {
		t.Fatalf("no eviction happened: %+v", st)
	}
}

func TestOversizedValueNotCached(t *testing.T) {
	c := New(shardCount * 1024)
	c.Set([]byte("k"), []byte("small"))
	c.Set([]byte("k"), make([]byte, 4096))
	if _, ok := c.Get([]byte("k"), nil); ok {
		t.Fatal("a value over the shard's share was cached, or the old one kept")
	}
	zero := New(0)
	zero.Set([]byte("k"), []byte("v"))
	if _, ok := zero.Get([]byte("k"), nil); ok {
		t.Fatal("a zero-capacity cache stored something")
	}
}

func TestConcurrent(t *testing.T) {
	c := New(256 * 1024)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				k := []byte(fmt.Sprint("k", (i*7+w)%500))
				switch i % 3 {
				case 0:
					c.Set(k, k)
				case 1:
					if v, ok := c.Get(k, nil); ok && string(v) != string(k) {
						t.Errorf("key %s holds %s", k, v)
						return
					}
				case 2:
					c.Delete(k)
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkGetHit(b *testing.B) {
	c := New(64 << 20)
	key := []byte("benchmark:key:000001")
	c.Set(key, make([]byte, 150))
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = c.Get(key, buf[:0])
	}
}

func TestFillLosesToConcurrentWrite(t *testing.T) {
	c := New(1 << 20)
	k := []byte("k")
	epoch := c.Epoch(k)             // reader: about to read "old" from the store
	c.Set(k, []byte("new"))         // writer: stored "new", updates the cache
	c.Fill(k, []byte("old"), epoch) // reader: must not put "old" back
	if v, _ := c.Get(k, nil); string(v) != "new" {
		t.Fatalf("cache holds %q after a stale fill", v)
	}
	c.Delete(k)
	epoch = c.Epoch(k)
	c.Fill(k, []byte("fresh"), epoch)
	if v, ok := c.Get(k, nil); !ok || string(v) != "fresh" {
		t.Fatalf("fill with a current epoch not cached: %q %v", v, ok)
	}
}

// Lookup counts a hit like Get and no miss: its caller reads on through
// Get, which counts the one miss a read the cache could not answer is.
func TestLookupCountsNoMiss(t *testing.T) {
	c := New(1 << 20)
	c.Set([]byte("k"), []byte("v"))
	if v, ok := c.Lookup([]byte("k"), []byte("x")); !ok || string(v) != "xv" {
		t.Fatalf("Lookup(k) = %q %v", v, ok)
	}
	if _, ok := c.Lookup([]byte("absent"), nil); ok {
		t.Fatal("Lookup found a key never set")
	}
	c.Get([]byte("absent"), nil)
	if st := c.Stats(); st.Hits != 1 || st.Misses != 1 {
		t.Fatalf("hits %d misses %d, want 1 and 1", st.Hits, st.Misses)
	}
}
