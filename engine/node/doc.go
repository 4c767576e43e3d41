// Package node assembles one node of the store: the engine on its data
// directory and, in cluster mode, the internode server and connection
// pools, gossip membership, the coordinator, the topology adapter between
// them, the ring and peer files that let a node restarted without seeds
// find its cluster, the admin commands dynctl sends, and the order in
// which all of it shuts down.
//
// Open and Close are the whole life cycle; Options holds every setting,
// with the defaults of each layer applied in one place (EnsureDefaults)
// and checked in one place (Validate). cmd/dynamod parses flags into
// Options and serves Node.KV over the memcached protocol; tests and the
// simulator open nodes directly.
package node
