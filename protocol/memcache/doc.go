// Package memcache implements the memcached 1.6 text protocol over an
// kv.KV: a streaming parser (Parser), a command executor that maps
// each command to engine calls and encodes the reply (Executor), and the
// memcached quirks clients depend on, reproduced byte for byte against
// memcached 1.6.18 (see protocol/compat for the differential test).
//
// The parser is pure: it consumes a byte slice, reports how many bytes
// formed a complete command, and keeps only the state that spans commands
// (the rest of a rejected data block to discard). It enforces memcached's
// limits itself: keys of at most 250 bytes, a request line that must end
// within 2 KiB unless it is a get (which may grow to the item size limit
// plus 2 KiB), and the item size limit computed as memcached does
// (48-byte header, 8-byte CAS, key, NUL, 4 bytes of flags if non-zero,
// value and CRLF). Numbers parse with memcached's strtol/strtoul rules,
// including 32-bit truncation ("set k 4294967297 0 1" stores flags 1).
//
// The executor does no I/O of its own beyond the engine. Per-goroutine
// scratch (a reused kv.Object and buffers) lives in a Session, so the
// get and set paths do not allocate. Read-modify-write commands (append,
// prepend, incr, decr, touch, gat, mg T, md I/x, ms with M A/P) read the
// last-writer-wins value and write it back conditioned on the CAS just
// read, superseding every version, and retry up to Options.Retries times
// when another writer got in between.
//
// # Classic view of versions
//
// Classic commands and meta commands see one value per key: the winner of
// kv.Object (last writer wins). A key whose winner is a tombstone, or
// which has no version, is a miss. "gets" and "mg c" return Object.CAS, a
// digest of the causal context: it is not monotonic, and touching an item
// (touch, gat, mg T) writes a new version and so changes it (memcached
// keeps the CAS on touch; gats returns the new one).
//
// # Extensions
//
// Contexts travel as standard padded base64 of the engine's context bytes;
// "-" is the empty context (which supersedes nothing).
//
//	getv <key>+
//	  for each key with at least one version (tombstones count):
//	  CONTEXT <key> <nsiblings> <context>\r\n
//	  then per sibling, in the engine's order:
//	  SIBLING <flags> <bytes> <exptime> <timestamp> <live|deleted>\r\n<data>\r\n
//	  (exptime: absolute unix seconds, 0 = never; a deleted sibling has 0
//	  bytes and an empty data line), and END\r\n after all keys.
//	putv <key> <flags> <exptime> <bytes> <context|-> [noreply]\r\n<data>\r\n
//	  -> STORED <newcontext>; supersedes exactly what the context names,
//	  other versions stay as siblings. exptime as for set.
//	delv <key> <context|-> [noreply]
//	  -> DELETED <newcontext>; a tombstone superseding what the context names.
//
// Errors: a malformed context is "CLIENT_ERROR bad context" (for putv the
// data block is discarded); one the engine cannot decode is the same.
// Engine failures are "SERVER_ERROR <message>". noreply silences the reply
// and errors, as for classic commands.
//
// Meta flags: mg X returns " X<context>" and mg Y " Y<nsiblings>" (hits
// only; on a miss only O and k are echoed, as memcached does). ms and md
// take X<context> (supersede exactly that context instead of everything;
// ms modes A/P ignore it) and D<b|w|s> (engine durability Buffered, WAL or
// Sync for this write). A numeric D on ms/md is accepted and ignored, as in
// memcached 1.6.18; on ma D stays the delta. memcached's own stale marker
// is a bare " X" response flag; an X carrying a value is always the
// context.
//
// # Deliberate differences from memcached 1.6.18
//
//   - mg h and l (hit before, last access) need per-item access tracking the
//     engine does not keep, and E (explicit CAS, 1.6.19+) cannot be honoured
//     with digest CAS values: all three answer "CLIENT_ERROR invalid flag".
//     md x (remove the value, keep the item; memcached 1.6.27+) is
//     supported.
//   - Recache state (W, Z and the stale X of mg; md I) lives in a bounded,
//     per-process table keyed by key and CAS (Options.LeaseLimit). It is
//     not replicated or persisted; any write that changes the CAS clears it.
//     "ms C<cas> I" stores a stale value only when <cas> is the CAS the item
//     had when "md I" invalidated it (memcached accepts any lower CAS).
//   - me prints "ME <key> exp=<seconds left|-1> cas=<cas> size=<value
//     bytes> siblings=<n>": memcached's la, fetch and cls have no
//     counterpart.
//   - The b flag's base64 echo (k) follows the request, not a per-item bit.
//   - A read-modify-write that loses to other writers Options.Retries
//     times answers "SERVER_ERROR too much contention, try again".
//   - stats: the general fields are memcached's, in its order, with these
//     meanings: curr_connections, total_connections and
//     connection_structures count client connections only (memcached also
//     counts its listener); threads is the number of event loops;
//     bytes_read counts bytes of complete commands; get_expired,
//     get_flushed and store_no_memory are 0 (the engine hides expired and
//     flushed items); bytes, curr_items, limit_maxbytes and evictions come
//     from the engine's Stats (0 when it has none), followed by the
//     engine's other lines; total_items counts stores through this
//     executor; limit_maxbytes is the memory the node may hold data in.
//     Fields about libevent, slabs, LRU, hashing, logging, extstore and
//     listen pauses are omitted. "stats settings" lists only settings that
//     exist here; "stats items/slabs/sizes/conns" are empty; "stats detail
//     on|off|dump" keeps memcached's per-prefix counts (detail.go); "stats
//     reset" clears the command counters and those.
//   - verbosity is accepted and does nothing.
package memcache
