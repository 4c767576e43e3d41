package store

import (
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walWatchFS records the first failed write or sync of a WAL file.
//
// Pebble writes the WAL from a background flusher. A NoSync commit does not
// learn that an earlier write failed; a later commit that rotates the WAL
// onto the broken log makes Pebble panic after releasing its mutex, which
// the Go runtime turns into a fatal, unrecoverable error. The writer checks
// this record before each commit and stops committing instead.
type walWatchFS struct {
	vfs.FS
	failed *atomic.Pointer[error]
}

// isWAL matches Pebble's WAL file names (000123.log).
func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs walWatchFS) watch(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !isWAL(name) {
		return f, err
	}
	return walWatchFile{File: f, failed: fs.failed}, nil
}

func (fs walWatchFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.watch(name, f, err)
}

func (fs walWatchFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.watch(newname, f, err)
}

func (fs walWatchFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.watch(name, f, err)
}

// Unwrap returns the watched FS.
func (fs walWatchFS) Unwrap() vfs.FS { return fs.FS }

type walWatchFile struct {
	vfs.File
	failed *atomic.Pointer[error]
}

func (f walWatchFile) note(err error) error {
	if err != nil {
		f.failed.CompareAndSwap(nil, &err)
	}
	return err
}

func (f walWatchFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	return n, f.note(err)
}

func (f walWatchFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	return n, f.note(err)
}

func (f walWatchFile) Sync() error { return f.note(f.File.Sync()) }

func (f walWatchFile) SyncData() error { return f.note(f.File.SyncData()) }

func (f walWatchFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	return full, f.note(err)
}
