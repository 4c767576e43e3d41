package ring_test

import (
	"fmt"

	"github.com/dynamo-kv/dynamo/ring"
)

func Example() {
	members := []ring.Member{
		{ID: "n1", Zone: "a", Weight: 1}, {ID: "n2", Zone: "b", Weight: 1},
		{ID: "n3", Zone: "c", Weight: 1}, {ID: "n4", Zone: "a", Weight: 1},
		{ID: "n5", Zone: "b", Weight: 1}, {ID: "n6", Zone: "c", Weight: 1},
	}
	r, err := ring.New(ring.Config{Partitions: 64, Replicas: 3}, members)
	if err != nil {
		panic(err)
	}

	// Hash once per request, then find the partition and its replicas.
	hash := ring.HashKey([]byte("user:42"))
	p := r.Partition(hash)
	replicas, _ := r.PreferenceList(p, 3, nil)
	zones := map[string]bool{}
	for _, id := range replicas {
		m, _ := r.Member(id)
		zones[m.Zone] = true
	}
	fmt.Println("replicas:", len(replicas), "zones:", len(zones), "owner first:", replicas[0] == r.Owner(p))

	// A join is a new ring; the old one is untouched.
	next, _ := r.Join(ring.Member{ID: "n7", Zone: "a", Weight: 1})
	moved, _ := r.Moved(next)
	fmt.Println("versions:", r.Version(), next.Version(), "partitions with new replicas:", len(moved) > 0)

	// Rings travel as bytes.
	back, _ := ring.Decode(next.Encode())
	fmt.Println("round trip:", back.Equal(next))
	// Output:
	// replicas: 3 zones: 3 owner first: true
	// versions: 1 2 partitions with new replicas: true
	// round trip: true
}
