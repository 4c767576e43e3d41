package server

import (
	"crypto/tls"
	"errors"
	"runtime"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/memcache"
)

// Options configure a Server. Zero values mean the documented defaults,
// applied in one place (ensureDefaults).
type Options struct {
	// Listen is the TCP address, host:port. Default "127.0.0.1:11211".
	// Port 0 picks a free port; Addr reports it once Ready is closed.
	Listen string
	// MaxConns is the most client connections served at once; further ones
	// get memcached's "ERROR Too many open connections" and are closed.
	// Default 1024 (memcached's -c default).
	MaxConns int
	// IdleTimeout closes a connection that has sent no command for this
	// long and has none in progress, like memcached's -o idle_timeout
	// (which, unlike us, spares a connection stalled inside a data block).
	// Default 0: never.
	IdleTimeout time.Duration
	// MaxItemSize is the item size limit (memcached's -I). Default 1 MiB.
	MaxItemSize int
	// EventLoops is the number of gnet event loops. Default
	// runtime.NumCPU().
	EventLoops int
	// Version is what "version" reports. Default memcache.DefaultVersion.
	Version string
	// CloseWait bounds how long a connection's event loop waits, when the
	// client half-closes while a batch of its commands is still running,
	// for that batch's replies so that they are still sent (memcached
	// answers commands that arrive before a FIN). Default 250ms.
	CloseWait time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Latency, when set, is told how long each data command took to
	// execute (package protocol/metrics records it). Default nil.
	Latency memcache.LatencyRecorder
	// TLS, when set, makes the port speak TLS only, as memcached's -Z
	// does; each connection is then served by a goroutine of its own over
	// crypto/tls rather than by the event loops (see tls.go). It must hold
	// a certificate (Certificates or GetCertificate). Default nil: plain
	// TCP.
	TLS *tls.Config
	// Auth, when set, makes every connection authenticate first with
	// memcached's ASCII mechanism (its -Y; protocol/memcache/auth.go).
	// Default nil: no authentication.
	Auth *memcache.AuthFile
	// ConcurrentBatches runs the independent commands of a pipelined batch
	// at once (memcache.Planner), replies still in request order. It pays
	// where a command waits on the network, as a cluster coordinator
	// does; a local store answers faster than the hand-off. Default false.
	ConcurrentBatches bool
}

// Errors returned by New and Shutdown; compare with errors.Is.
var (
	ErrBadOptions  = errors.New("server: bad options")
	ErrNotServing  = errors.New("server: not serving")
	ErrShutdownCtx = errors.New("server: shutdown deadline passed with batches in flight")
)

func (o *Options) ensureDefaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:11211"
	}
	if o.MaxConns == 0 {
		o.MaxConns = 1024
	}
	if o.MaxItemSize == 0 {
		o.MaxItemSize = memcache.DefaultMaxItemSize
	}
	if o.EventLoops == 0 {
		o.EventLoops = runtime.NumCPU()
	}
	if o.Version == "" {
		o.Version = memcache.DefaultVersion
	}
	if o.CloseWait == 0 {
		o.CloseWait = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func (o *Options) validate() error {
	switch {
	case o.MaxConns < 0:
		return errors.Join(ErrBadOptions, errors.New("MaxConns is negative"))
	case o.IdleTimeout < 0:
		return errors.Join(ErrBadOptions, errors.New("IdleTimeout is negative"))
	case o.MaxItemSize < 1024:
		return errors.Join(ErrBadOptions, errors.New("MaxItemSize is below 1 KiB"))
	case o.EventLoops < 0:
		return errors.Join(ErrBadOptions, errors.New("EventLoops is negative"))
	case o.TLS != nil && len(o.TLS.Certificates) == 0 && o.TLS.GetCertificate == nil && o.TLS.GetConfigForClient == nil:
		return errors.Join(ErrBadOptions, errors.New("TLS has no certificate"))
	}
	return nil
}
