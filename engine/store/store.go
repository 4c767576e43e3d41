package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// Store is an ordered byte-key/byte-value map: an in-memory write buffer in
// front of Pebble, with one background writer that owns every commit. All
// methods are safe for concurrent use.
type Store struct {
	opts   Options
	db     *pebble.DB
	cache  *pebble.Cache
	events pebbleEvents
	sched  *compactionScheduler
	// opened is db once Open has it, for compactions that start during
	// Open (they read it from their own goroutines).
	opened atomic.Pointer[pebble.DB]
	press  pressure

	buf  buffer
	room room
	gate gate

	// roundMu orders Flush against the writer taking buf.upcoming: a Flush
	// registers either before the writer reads the round's wishes or with
	// the next round.
	roundMu sync.Mutex

	kick       chan struct{} // wakes the writer; capacity 1
	closing    chan struct{} // closed when Close begins
	writerDone chan struct{} // closed when the writer goroutine exits

	w          writerState // owned by the writer goroutine
	stats      writerStats
	syncWrites atomic.Uint64
	failure    atomic.Pointer[error] // the sticky commit failure
	walFailed  atomic.Pointer[error] // first failed WAL write or sync, seen by walWatchFS
	wedged     atomic.Bool           // Pebble panicked holding its commit lock

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the store in opts.Dir and starts its
// background writer.
func Open(opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		opts:       opts,
		kick:       make(chan struct{}, 1),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	s.buf.init(newRound())
	s.room.init(opts.BufferBytes)
	s.gate.init()

	s.cache = pebble.NewCache(opts.CacheBytes)
	s.sched = newCompactionScheduler(s.lsmPressed)
	db, err := openPebble(opts.Dir, pebbleOptions(&s.opts, s.cache, &s.events, &s.walFailed, s.sched))
	if err != nil {
		s.cache.Unref()
		return nil, fmt.Errorf("store: open %s: %w", opts.Dir, err)
	}
	s.db = db
	s.opened.Store(db)
	s.w.init(db, opts.MemTableBytes)
	go s.run()
	return s, nil
}

// openPebble opens Pebble, turning a Fatalf during recovery into an error.
func openPebble(dir string, po *pebble.Options) (db *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err, _ = recoverCommit(r)
		}
	}()
	return pebble.Open(dir, po)
}

// Get appends the value of key to dst. found is false when the key is
// absent or deleted. The buffer is consulted first, so Get sees every
// acknowledged write.
func (s *Store) Get(key, dst []byte) (val []byte, found bool, err error) {
	if !s.gate.enter() {
		return dst, false, ErrClosed
	}
	defer s.gate.exit()
	if e, ok := s.buf.get(key); ok {
		if e.del {
			return dst, false, nil
		}
		return append(dst, e.value...), true, nil
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return dst, false, nil
	}
	if err != nil {
		return dst, false, fmt.Errorf("store: get: %w", err)
	}
	dst = append(dst, v...)
	return dst, true, closer.Close()
}

// Set writes value under key and returns when the write is as durable as d
// asks (see the package documentation). The store copies key and value.
func (s *Store) Set(key, value []byte, d Durability) error {
	return s.write(key, value, false, d)
}

// Delete removes key, with the same durability choices as Set.
func (s *Store) Delete(key []byte, d Durability) error {
	return s.write(key, nil, true, d)
}

func (s *Store) write(key, value []byte, del bool, d Durability) error {
	if d == DurabilityDefault {
		d = s.opts.Durability
	}
	if d > Sync {
		return fmt.Errorf("%w: %d", ErrInvalidDurability, d)
	}
	if err := s.buf.stopped(); err != nil {
		return err
	}
	size := entrySize(len(key), len(value))
	if err := s.room.reserve(size, s.wake, s.buf.stopped); err != nil {
		return err
	}
	r, replaced, err := s.buf.put(key, value, del, d)
	if err != nil {
		s.room.release(size)
		return err
	}
	s.room.release(replaced)
	if r == nil {
		if s.room.used.Load() >= s.opts.BufferBytes/4 {
			s.wake()
		}
		return nil
	}
	s.wake()
	if err := r.wait(); err != nil {
		return err
	}
	if d == Sync {
		s.syncWrites.Add(1)
	}
	return nil
}

// Flush returns once everything written before the call is committed to
// Pebble and the WAL fsynced.
func (s *Store) Flush() error {
	s.roundMu.Lock()
	if err := s.buf.stopped(); err != nil {
		s.roundMu.Unlock()
		return err
	}
	r := s.buf.upcoming.Load()
	r.register(Sync)
	s.roundMu.Unlock()
	s.wake()
	return r.wait()
}

// wake asks the writer for a round without blocking.
func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Close refuses new calls, lets the writer commit and fsync everything
// buffered, waits for in-flight reads, and closes Pebble. It reports a
// commit failure that left entries unwritten. Later calls return the same
// result. Close must not be called from a Scan callback.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.buf.stop(ErrClosed)
	s.room.wakeAll()
	close(s.closing)
	<-s.writerDone
	s.gate.close()

	var errs []error
	if p := s.failure.Load(); p != nil {
		errs = append(errs, fmt.Errorf("%d entries not written: %w", s.buf.entries.Load(), *p))
	}
	s.w.batch.Close()
	if s.wedged.Load() {
		// DB.Close would wait forever for the commit lock Pebble holds.
		errs = append(errs, errors.New("store: pebble left open after it panicked in commit"))
	} else if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store: close pebble: %w", err))
	}
	s.cache.Unref()
	return errors.Join(errs...)
}
