// Package server serves the memcached text protocol over TCP with gnet/v2
// event loops, executing commands against an kv.KV.
//
// Each connection has at most one batch of commands in flight: OnTraffic
// parses every complete command buffered (protocol/memcache.Parser, on the
// event loop), copies them out of gnet's buffer, and hands them to a worker
// goroutine; the worker runs them through memcache.Executor and sends all
// their replies with one AsyncWrite, whose callback discards the consumed
// input and wakes the connection if more is buffered. Storage work never
// runs on an event loop, replies keep request order even when pipelined,
// and a connection that keeps sending while its batch runs only
// accumulates input. Batches that touch no storage (version, mn, errors)
// are answered on the loop.
//
// A multi-key reply larger than 1 MiB is sent in parts as it is built
// (memcache.ReplySink) rather than held whole. While more than 4 MiB of a
// connection's replies wait for its socket, its input is not parsed. gnet
// cannot stop reading a socket, so a client that keeps sending anyway is
// disconnected once 64 MiB (or four items, if larger) of its input is
// unparsed; memcached would instead stop reading and let TCP flow control
// hold the client back. If the client half-closes while a batch runs, the
// loop waits up to CloseWait for the batch so that its replies still go
// out before gnet closes the socket.
//
// Like memcached it refuses connections beyond MaxConns with
// "ERROR Too many open connections", closes connections idle longer than
// IdleTimeout (if set), and closes without a reply on a request line over
// 2 KiB or one that looks like HTTP. Shutdown stops taking commands, lets
// the batches in flight finish and write their replies, then stops the
// event loops; the caller closes the engine afterwards.
//
// With Options.TLS the port speaks TLS only (memcached's -Z), and each
// connection is served by a goroutine of its own over crypto/tls, since
// gnet's loops speak plain TCP (tls.go).
//
// It deliberately does not speak memcached's binary protocol, UDP or SASL,
// and has no admin commands (slabs, lru_crawler, watch, ...): they answer
// ERROR as unknown commands do.
package server
