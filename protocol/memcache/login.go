package memcache

import (
	"bytes"
	"fmt"
	"io"
)

// Login is the client side of the ASCII authentication (auth.go): it
// sends the set carrying "user password" on rw and reads the one-line
// answer, byte by byte so that nothing after it is consumed. It returns
// nil on STORED and the server's line as the error otherwise. The caller
// sets any deadline.
func Login(rw io.ReadWriter, user, password string) error {
	body := user + " " + password
	if _, err := fmt.Fprintf(rw, "set auth 0 0 %d\r\n%s\r\n", len(body), body); err != nil {
		return fmt.Errorf("logging in as %s: %w", user, err)
	}
	var line []byte
	b := make([]byte, 1)
	for len(line) < 256 && !bytes.HasSuffix(line, []byte("\n")) {
		if _, err := io.ReadFull(rw, b); err != nil {
			return fmt.Errorf("logging in as %s: %w", user, err)
		}
		line = append(line, b[0])
	}
	if string(line) != "STORED\r\n" {
		return fmt.Errorf("logging in as %s: %s", user, bytes.TrimSpace(line))
	}
	return nil
}
