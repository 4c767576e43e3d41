// Package store is the ordered byte-key/byte-value map under the versioned
// engine: an in-memory write buffer with one background writer in front of
// Pebble.
//
// # Data path
//
// Every Set or Delete first enters the write buffer, a sharded map from key
// to its latest value (deletes are buffered tombstones) tagged with a per-key
// sequence number. Get and Scan consult the buffer before Pebble, so a read
// always sees the latest acknowledged write. A single writer goroutine owns
// every Pebble commit. Each round it captures all buffered entries, writes
// them in Pebble batches of about 4 MiB each, and then
// drops from the buffer only the entries whose sequence number did not change
// meanwhile. Because one goroutine commits rounds in order, a captured value
// can never overwrite a newer one in Pebble.
//
// The writer starts a round when a WAL or Sync write (or Flush) is waiting,
// when the buffer passes a quarter of Options.BufferBytes, and at least every
// Options.FlushInterval. Writers that arrive while a round commits join the
// next round, so concurrent Sync writers share one fsync (group commit).
// When the buffer holds Options.BufferBytes, writers block until the writer
// frees room (backpressure, counted in Metrics).
//
// # What an acknowledged write survives
//
// Facts about Pebble v2.1.7 that the guarantees rest on (read in
// record/log_writer.go and db.go, and checked by TestWALModeTailIsInProcess):
// a NoSync commit copies its WAL record into Pebble's in-process 32 KiB log
// block and returns. Pebble's log flusher hands blocks to the kernel
// (write(2)) only when it is woken: when a block fills, when a commit asks
// for a sync, or when the WAL is rotated or closed. A Sync commit writes
// and fsyncs everything logged before it.
//
//   - Buffered: acknowledged once the write is in the buffer (process memory).
//     Survives a clean Close. A SIGKILL loses it until its round's WAL record
//     has reached the kernel, a power loss until that record is fsynced (see
//     below for when both happen). The writer commits it within FlushInterval
//     (10 ms by default) unless backpressure or a Pebble write stall delays it.
//   - WAL: acknowledged once a round containing it is committed to Pebble
//     without fsync: visible in Pebble's memtable, and its WAL record is in
//     Pebble's user-space log buffer. So even a SIGKILL right after the
//     acknowledgement can lose it (up to the last ~32 KiB of log plus any
//     queued blocks), and so can a power loss. What WAL mode adds over
//     Buffered is that the caller has waited for the commit and sees its
//     error.
//   - Sync: acknowledged once a round containing it is committed and the WAL
//     fsynced. Survives SIGKILL and power loss or OS crash, provided the
//     device honours fsync.
//
// Buffered and WAL writes become as durable as Sync ones once any Flush or
// Sync-mode write (by any caller) that started after they were acknowledged
// has returned successfully. Independently the writer fsyncs the WAL at least
// every Options.SyncInterval (100 ms by default) while unsynced commits
// exist, which bounds the exposure of Buffered and WAL writes to roughly
// FlushInterval + SyncInterval when the writer is not stalled.
//
// In every mode a crash leaves a consistent store: Pebble replays a prefix
// of its WAL, rounds are committed in order, and each value read back after
// the crash is one that was written for its key (never torn or mixed).
//
// # Failures
//
// Pebble treats a failed WAL write or sync as fatal for the DB instance: it
// calls Logger.Fatalf when a commit sees the error, and panics in its commit
// pipeline when a later commit finds the log broken. The store turns both
// into errors: the waiting writers of the failed round receive an error
// wrapping ErrCommitFailed, the store stops accepting writes (later writers
// get the same error), and the entries stay in the buffer, where reads still
// find them. Pebble's flusher writes the WAL in the background, so a failed
// write may surface only after WAL-mode writes were acknowledged; the store
// watches every WAL write and sync through its filesystem and stops
// committing at the first failure. Nothing is retried: the process must
// reopen the store, which replays the WAL.
//
// Two failures still end the process, because Pebble fails them outside
// any goroutine the store controls or with its own locks in a state no
// recovery can repair: a fatal error in one of Pebble's background jobs (for
// example a failed MANIFEST sync), and a WAL write that fails while Pebble is
// rotating the WAL inside a commit (Pebble v2.1.7 then panics after
// releasing its mutex, and the deferred unlock is a fatal runtime error).
//
// # What the package does not do
//
// It knows nothing about versions, siblings or expiry (the engine encodes
// those into values), offers no multi-key transactions, and does not retry
// failed commits. Scan collects the buffered entries in its range and sorts
// them, so its cost grows with the buffer's size, not only with the range.
package store
