//go:build !unix

package node

// lockDir is a no-op where flock does not exist: Pebble's own lock still
// refuses a second process, with a less helpful message.
func lockDir(string) (func(), error) { return func() {}, nil }
