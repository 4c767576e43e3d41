//go:build unix

package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file in the data directory that one dynamod holds
// locked (flock) while it runs, with its PID in it.
const lockFile = "dynamod.pid"

// lockDir takes the data directory for this process, or says which
// process has it. Pebble locks its own files too, but its error names a
// file and an errno, not the process to look for.
func lockDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			if pid := strings.TrimSpace(string(b)); pid != "" {
				return nil, fmt.Errorf("data directory %s is in use by another dynamod (pid %s)", dir, pid)
			}
			return nil, fmt.Errorf("data directory %s is in use by another dynamod", dir)
		}
		return nil, fmt.Errorf("locking data directory %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		f.Truncate(0) // the lock goes with the descriptor; a stale PID would mislead
		f.Close()
	}, nil
}
