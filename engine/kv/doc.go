// Package kv is the contract between the front end and whatever stores the
// data: the KV interface, the objects a read returns (siblings, context,
// cas), the write requests and their results, durability modes, and the
// errors both sides compare with errors.Is.
//
// It is a leaf: the standard library only. The protocol layer, the
// single-node engine, the cluster coordinator and the test fakes all import
// it, so the protocol layer builds without the storage engine, and a fake
// is checked against the same contract as the real thing.
package kv
