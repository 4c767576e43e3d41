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
	p, err := s.write(key, value, false, d)
	if err != nil {
		return err
	}
	return p.Wait()
}

// Delete removes key, with the same durability choices as Set.
func (s *Store) Delete(key []byte, d Durability) error {
	p, err := s.write(key, nil, true, d)
	if err != nil {
		return err
	}
	return p.Wait()
}

// SetLater is Set that returns once the write is buffered (readers see
// it), leaving the wait for the durability d asks to the caller: a caller
// that holds locks releases them first, so that an fsync, which took 69 ms
// on a busy disk in a bench-join run, holds up no other writer of the key
// or of its partition.
func (s *Store) SetLater(key, value []byte, d Durability) (Pending, error) {
	return s.write(key, value, false, d)
}

// DeleteLater is Delete as SetLater is Set.
func (s *Store) DeleteLater(key []byte, d Durability) (Pending, error) {
	return s.write(key, nil, true, d)
}

// Pending is a write whose durability is still to be awaited. The zero
// Pending has nothing to wait for.
type Pending struct {
	r    *round
	sync *atomic.Uint64 // counts a Sync write once its round is done
}

// Wait returns when the write is as durable as it asked, or the error of
// the round that was to make it so.
func (p Pending) Wait() error {
	if p.r == nil {
		return nil
	}
	if err := p.r.wait(); err != nil {
		return err
	}
	if p.sync != nil {
		p.sync.Add(1)
	}
	return nil
}

func (s *Store) write(key, value []byte, del bool, d Durability) (Pending, error) {
	if d == DurabilityDefault {
		d = s.opts.Durability
	}
	if d > Sync {
		return Pending{}, fmt.Errorf("%w: %d", ErrInvalidDurability, d)
	}
	if err := s.buf.stopped(); err != nil {
		return Pending{}, err
	}
	size := entrySize(len(key), len(value))
	if err := s.room.reserve(size, s.wake, s.buf.stopped); err != nil {
		return Pending{}, err
	}
	r, replaced, err := s.buf.put(key, value, del, d)
	if err != nil {
		s.room.release(size)
		return Pending{}, err
	}
	s.room.release(replaced)
	if r == nil {
		if s.room.used.Load() >= s.opts.BufferBytes/4 {
			s.wake()
		}
		return Pending{}, nil
	}
	s.wake()
	p := Pending{r: r}
	if d == Sync {
		p.sync = &s.syncWrites
	}
	return p, nil
}

// MemoryLimit is the memory the store may hold data in: the write buffer,
// Pebble's block cache and the memtables it keeps before it stalls writes.
func (s *Store) MemoryLimit() int64 {
	return s.opts.BufferBytes + s.opts.CacheBytes + memTablesBeforeStall*int64(s.opts.MemTableBytes)
}

// Flush returns once everything written before the call is committed to
// Pebble and the WAL fsynced.
func (s *Store) Flush() error {
	p, err := s.FlushLater()
	if err != nil {
		return err
	}
	return p.Wait()
}

// FlushLater is Flush that leaves the wait to the caller (see SetLater):
// everything written before the call is in the round it returns.
func (s *Store) FlushLater() (Pending, error) {
	s.roundMu.Lock()
	if err := s.buf.stopped(); err != nil {
		s.roundMu.Unlock()
		return Pending{}, err
	}
	r := s.buf.upcoming.Load()
	r.register(Sync)
	s.roundMu.Unlock()
	s.wake()
	return Pending{r: r}, nil
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
