// Package wiretest injects network faults under package wire, for this
// package's tests and for cluster tests that run several nodes in one
// process over loopback.
//
// A Network holds a Fault per peer address. Its Dialer wraps a wire.Dialer,
// and its Listener wraps a server's listener; both return connections whose
// traffic the Network controls while they live, so a test can partition a
// node, slow it down, lose some of its messages or crash its connections,
// then heal it, all without touching the code under test:
//
//	net := wiretest.NewNetwork(1)
//	pool, _ := wire.NewPool(wire.Options{Dial: net.Dialer(nil)})
//	net.Set(addrB, wiretest.Fault{BlackHole: true}) // partition B
//	...
//	net.Heal(addrB)
//
// Faults act on whole frames or on the byte stream in ways TCP itself can
// produce: a black hole stalls both directions (like a partition: nothing is
// lost, and everything flows once healed, unless a side gave up first);
// a delay holds each outgoing write back; a drop loses whole wire frames,
// as if the peer never received a message, and never leaves a torn frame.
//
// It deliberately does not simulate reordering or corruption inside a
// connection (TCP prevents both; corrupt frames are covered by package
// wire's fuzz tests), bandwidth limits, or faults keyed by anything but the
// peer's address. Write queues held by a black hole or a delay are not
// bounded.
package wiretest
