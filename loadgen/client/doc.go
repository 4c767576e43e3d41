// Package client is a pipelining memcached text-protocol client built for
// load generation: requests are appended to a reusable write buffer and sent
// in one write per batch, and responses are parsed in place from a reusable
// read buffer, so steady-state operation allocates nothing.
//
// It speaks get, set and delete, plus the store's versioned extensions getv
// and putv (CONTEXT/SIBLING replies carrying a causal context). Parse is a
// pure streaming parser: it reports ErrIncomplete until a whole response is
// buffered and never reads past it. Conn adds the socket, per-read
// timestamps and inactivity timeouts.
//
// It deliberately does not pool connections, route keys to servers, retry,
// or match responses to requests: the caller pipelines on one Conn and asks
// for each reply in request order, naming the shape it expects.
package client
