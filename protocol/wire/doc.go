// Package wire is the internode transport: a framed, checksummed, versioned
// binary request/response protocol over TCP. A Pool keeps a few connections
// to each peer and multiplexes many concurrent calls on each by request id;
// a Server reads requests and runs them concurrently through a Handler. The
// package is generic over message types and opaque payloads: the
// application defines the types (replica reads and writes, hints,
// anti-entropy, partition transfer) and encodes payloads with the Append*
// functions and the Decoder.
//
// It deliberately does not know what messages mean, route keys to nodes,
// retry calls, or decide that a node is dead: it reports evidence (Healthy,
// Options.OnHealthChange) that the failure detector weighs beside gossip.
// With TLSListener and TLSDialer (tls.go) it runs over mutual TLS, which
// is how a cluster keeps non-members out; without them it does no
// encryption or authentication and assumes a trusted network.
//
// # Frame layout
//
// Every frame is a 20-byte header followed by the payload. Integers are
// little-endian, the byte order of every machine we run on (amd64, arm64),
// so encoding is a plain store.
//
//	offset size field
//	0      1    magic 0xD7
//	1      1    protocol version
//	2      1    message type
//	3      1    flags: bit 0 response, bit 1 error; other bits must be 0
//	4      8    request id
//	12     4    payload length
//	16     4    crc32c (Castagnoli) of bytes 0-15 and the payload
//
// Why this layout:
//   - Fixed size, so a reader needs one 20-byte read to learn everything,
//     and can check the length against MaxPayload before it reads or
//     allocates anything for the payload.
//   - The magic byte and the version come first, so a stray or incompatible
//     peer fails on its first two bytes, not after a payload.
//   - One byte of type: the application needs tens of message types, not
//     thousands; 0 is invalid (a zeroed buffer is not a message) and 240-255
//     are the transport's (TypePing).
//   - The 64-bit request id never wraps on a connection, so a late response
//     can never be mistaken for the answer to a newer request.
//   - A 32-bit length with a configurable limit (default 8 MiB, at most
//     1 GiB): large enough for partition-transfer batches, small enough that
//     a corrupt length cannot make a reader buffer gigabytes.
//   - crc32c over the header and the payload: TCP's 16-bit checksum misses
//     some corruption (bad NICs, middleboxes, bugs in our own buffer reuse),
//     and crc32c runs at more than 10 GB/s in hardware (SSE4.2, ARMv8 CRC),
//     about 10 ns for a small frame. It guards against accidents, not
//     attackers. The header's first 16 bytes are covered too, so a flipped
//     type or id bit is caught; a flipped length bit is caught when the
//     checksum of the misframed bytes fails, or bounded by the length limit.
//
// A frame is rejected, and its connection closed without any handler
// running, if the magic, version, flags or type is wrong, the length is over
// the limit, the checksum fails, or the stream ends inside a frame. A server
// also rejects responses and request types outside ServerOptions.Types; a
// client rejects requests. Closing is the only safe reaction: after a bad
// frame the stream position is unknown. Other connections are unaffected.
//
// # Versions and message types
//
// The version byte names the frame layout and the transport's rules. A
// responder answers in the request's version, and a node accepts
// [MinVersion, Version], so an upgrade that changes the format raises
// Version, keeps the old one accepted for a release, and only then raises
// MinVersion. Message type numbers are part of the protocol: the application
// must only append new types, never renumber, and a node that does not know
// a type closes the connection, so a new type belongs with a version step
// (or a capability check) during rolling upgrades.
//
// # Calls
//
// Client.Call encodes the request into a pooled buffer, registers it under a
// fresh id and queues it for the connection's writer goroutine, which copies
// all frames queued meanwhile into one buffer and flushes when the queue is
// empty: under load many requests share a write syscall, and a lone request
// goes out after one yield to the goroutines already runnable (the senders
// about to queue theirs). A reader goroutine matches responses to calls by id and
// appends each payload to the caller's buffer. A call whose context ends
// frees its slot at once; its response, if it comes, is dropped. With a
// caller-supplied buffer the round trip allocates nothing on either side.
//
// # Failure handling
//
// A connection that fails (reset, end of stream, bad frame, write timeout)
// fails all its calls at once with ErrConnClosed; the next call redials. A
// failed dial, or a call deadline passing on a connection that received
// nothing since the request was sent, marks the peer suspect: calls then
// fail at once with ErrPeerSuspect instead of each waiting out a timeout,
// and a background probe (a dial plus a TypePing round trip) retries with
// exponential backoff from RetryMin to RetryMax until the peer answers,
// when the peer is healthy again; Pool.Recover probes at once when
// another signal (gossip) says the peer is back. Context cancellation never marks a peer
// suspect, because coordinators cancel calls they no longer need.
//
// # Server
//
// Each connection has a reader goroutine, up to MaxConcurrentPerConn worker
// goroutines (started on demand, kept for the connection's life) and a
// writer goroutine. Responses are written as handlers finish, in any order;
// the id pairs them with requests. When every worker is busy the reader
// stops reading, so a slow server pushes back on its clients through TCP
// flow control. Shutdown drains: it stops reading new requests, lets the
// handlers in flight finish and writes their responses.
//
// Handler contexts carry no per-request deadline: a caller's deadline is not
// sent on the wire. A handler that may run long should bound itself.
package wire
