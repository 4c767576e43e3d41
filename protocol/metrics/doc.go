// Package metrics serves a node's figures to Prometheus: the lines of
// memcached's "stats" (the server's, the engine's, the store's, the
// cluster's and the background controller's, as the node reports them)
// become metrics with memcached's names under the "dynamo_" prefix,
// counters suffixed "_total" and durations in seconds, as the exposition
// format's conventions ask; the text lines (version, node ID, durability)
// become labels of dynamo_info. A scrape reads "stats" once, so the two
// views never disagree, and it costs the data path nothing: no request
// is timed or counted twice.
package metrics
