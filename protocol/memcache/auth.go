package memcache

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"os"
)

// ASCII authentication, memcached's -Y: a connection is refused every
// command until it authenticates with a set whose data block is
// "<user> <password>" (the key, flags and exptime are ignored, nothing is
// stored, noreply is ignored as memcached ignores it). STORED means in;
// a block without a space is "bad authentication token format", a wrong
// pair "authentication failure", and any other command "unauthenticated";
// the connection stays open after each, and quit closes it. Counted in
// auth_cmds and auth_errors, as memcached counts them.

// AuthFile holds the users and passwords a connection may authenticate
// with: memcached's authfile, one "user:password" per line.
type AuthFile struct {
	path  string
	users map[string][][]byte // a user may have several passwords: a rotation
}

// maxAuthFile bounds the file read, as memcached bounds its own.
const maxAuthFile = 8 << 20

// LoadAuthFile reads an authfile. Empty lines are skipped; any other line
// without a colon, or with an empty user or password, is an error naming
// its line.
func LoadAuthFile(path string) (*AuthFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the auth file: %w", err)
	}
	if len(raw) > maxAuthFile {
		return nil, fmt.Errorf("the auth file %s is larger than %d bytes", path, maxAuthFile)
	}
	a := &AuthFile{path: path, users: map[string][][]byte{}}
	for i, line := range bytes.Split(raw, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		user, pass, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(user) == 0 || len(pass) == 0 {
			return nil, fmt.Errorf("the auth file %s, line %d: not user:password", path, i+1)
		}
		if bytes.ContainsAny(user, " \t") {
			// The login token is "user password": such a user could never log in.
			return nil, fmt.Errorf("the auth file %s, line %d: a user name may not hold a space", path, i+1)
		}
		// Every line counts, as in memcached: a user listed twice logs in
		// with either password (an old and a new one, during a rotation).
		a.users[string(user)] = append(a.users[string(user)], pass)
	}
	if len(a.users) == 0 {
		return nil, fmt.Errorf("the auth file %s names no user", path)
	}
	return a, nil
}

// Path is the file the users came from ("stats settings" reports it).
func (a *AuthFile) Path() string { return a.path }

// check reports whether user and pass are a pair of the file, in time
// independent of how much of the password matched.
func (a *AuthFile) check(user, pass []byte) bool {
	wants, ok := a.users[string(user)]
	if !ok {
		wants = [][]byte{pass} // compare anyway, so an unknown user costs the same
	}
	match := 0
	for _, want := range wants {
		match |= subtle.ConstantTimeCompare(want, pass)
	}
	return match == 1 && ok
}

// AuthRequired reports whether connections must authenticate first.
func (e *Executor) AuthRequired() bool { return e.opts.Auth != nil }

// Authenticate answers cmd on a connection that has not authenticated
// yet, appending its reply to out, and reports whether the connection is
// now authenticated.
func (e *Executor) Authenticate(cmd *Command, out []byte) ([]byte, bool) {
	switch {
	case cmd.Op == OpQuit || cmd.Op == OpClose || cmd.Op == OpNone:
		return out, false // the caller closes, or nothing to answer
	case cmd.Op != OpSet:
		return append(out, "CLIENT_ERROR unauthenticated\r\n"...), false
	}
	e.stats.authCmds.Add(1)
	user, pass, ok := bytes.Cut(cmd.Data, []byte(" "))
	switch {
	case cmd.Err != "":
		// A set the parser refused (a block over the item size): an
		// attempt, and a failed one.
		e.stats.authErrors.Add(1)
		return append(out, "CLIENT_ERROR authentication failure\r\n"...), false
	case !ok:
		e.stats.authErrors.Add(1)
		return append(out, "CLIENT_ERROR bad authentication token format\r\n"...), false
	case !e.opts.Auth.check(user, pass):
		e.stats.authErrors.Add(1)
		return append(out, "CLIENT_ERROR authentication failure\r\n"...), false
	}
	return append(out, "STORED\r\n"...), true
}
