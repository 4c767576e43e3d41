// Package profile reads a load profile: a TOML file (perf/NAME.toml) holding
// a workload, the SLA it must meet, optionally a comparison, and the
// [cluster] settings the cluster launcher needs (N, R, W, durability,
// durable replicas, write buffer, flush interval).
//
// Loading validates everything and rejects unknown keys by name. The cluster
// settings are only parsed and validated here; nothing in loadgen acts on
// them.
package profile
