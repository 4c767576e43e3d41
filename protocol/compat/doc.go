// Package compat holds the end-to-end compatibility checks of the memcached
// front end, written as exported helpers so that they can run against any
// kv.KV: the protocol tests use protocol/internal/fakekv, and the
// engine's own tests can pass engine.Open.
//
//   - Differential: the same byte streams (well-formed and malformed,
//     pipelined and split across reads) go to our server and to a real
//     memcached 1.6 started on a free loopback port; the replies must match
//     byte for byte after a narrow normalisation of the fields that must
//     differ (version string, CAS values, remaining TTLs).
//   - Clients: real third-party clients (gomemcache, libmemcached's
//     command-line tools, Perl Cache::Memcached, Python pymemcache) run a
//     workload against our server and must see what they stored.
//
// Each check skips with a message naming what is missing (the memcached
// binary, a tool, an interpreter module) instead of failing. The package
// does not test the parser or executor in isolation; protocol/memcache does.
package compat
