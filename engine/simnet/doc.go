// Package simnet is an in-memory network for running a whole cluster in
// one process: the simulator's hosts, each with its own IP, talk over
// stream connections (the internode protocol, memberlist's TCP) and
// datagrams (memberlist's UDP) that no socket ever carries.
//
// Faults are the network's state, changed at any time: a cut between two
// hosts (both ways or one), a paused host, a crashed host, latency and
// jitter, datagram loss and duplication. Streams behave like TCP through
// an iptables DROP: data sent into a cut or to or from a paused host is
// held, in order, and delivered when the fault ends, unless an end gives
// up first (its own timeouts) and closes the connection. A crash closes
// every connection of the host at once, as the kernel's resets would.
// Datagrams into a fault are lost, as UDP's would be.
//
// Every wait is a channel operation or a timer, so a simnet network runs
// inside a testing/synctest bubble, where time is simulated and advances
// only when every goroutine is blocked.
package simnet
