package loadgen

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/client"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
)

// group is the set of connections one measurement drives: all of a run's,
// or one compare target's.
type group struct {
	cfg      *Config
	label    string
	targets  []string
	sessions []*session
}

func newGroup(cfg *Config, sh *sharedWorkload, label string, targets []string, firstID int) *group {
	g := &group{cfg: cfg, label: label, targets: targets}
	for i := range cfg.Conns {
		g.sessions = append(g.sessions, newSession(firstID+i, targets[i%len(targets)], cfg, sh))
	}
	return g
}

// connect dials every connection, failing on the first target that cannot
// be reached.
func (g *group) connect(ctx context.Context) error {
	errs := make([]error, len(g.sessions))
	var wg sync.WaitGroup
	for i, s := range g.sessions {
		wg.Go(func() { errs[i] = s.dial(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			g.close()
			return fmt.Errorf("%w to %s: %w", ErrConnect, g.sessions[i].addr, err)
		}
	}
	return nil
}

func (g *group) close() {
	for _, s := range g.sessions {
		if s.conn != nil {
			s.close()
		}
	}
}

// preload writes keys [0, Preload) once each, spread over the connections,
// saying so on cfg.Progress when it takes a while: a first line at once,
// the count done each second, and the time it took.
func (g *group) preload(ctx context.Context) error {
	start := time.Now()
	var done atomic.Uint64
	errs := make([]error, len(g.sessions))
	var wg sync.WaitGroup
	for i, s := range g.sessions {
		wg.Go(func() { errs[i] = s.preload(ctx, uint64(i), uint64(len(g.sessions)), &done) })
	}
	stop := make(chan struct{})
	var progress sync.WaitGroup
	if w := g.cfg.Progress; w != nil {
		fmt.Fprintf(w, "preloading %d keys into %s\n", g.cfg.Preload, strings.Join(g.targets, ","))
		progress.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					fmt.Fprintf(w, "preloaded %d of %d keys\n", done.Load(), g.cfg.Preload)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	progress.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if w := g.cfg.Progress; w != nil && ctx.Err() == nil {
		fmt.Fprintf(w, "preloaded %d keys in %v\n", g.cfg.Preload, time.Since(start).Round(time.Millisecond))
	}
	return ctx.Err()
}

// preload sets keys first, first+stride, ... below cfg.Preload with a deep
// pipeline; any failure aborts the run.
func (s *session) preload(ctx context.Context, first, stride uint64, done *atomic.Uint64) error {
	q := newFIFO(s.cfg.PreloadPipeline)
	next := first
	for {
		for q.n < len(q.buf) && next < s.cfg.Preload && ctx.Err() == nil {
			s.keyBuf = workload.AppendKey(s.keyBuf[:0], s.cfg.KeyPrefix, next)
			value := s.shared.payload.Value(s.opRand, s.cfg.ValueSize.Next(s.opRand))
			s.conn.Set(s.keyBuf, 0, s.cfg.Exptime, value)
			q.push(pending{key: next})
			next += stride
		}
		if q.n == 0 {
			return nil
		}
		if err := s.conn.NextFlushing(client.ReplyStore, &s.resp); err != nil {
			s.breakConn()
			return fmt.Errorf("%w: %s: %w", ErrPreload, s, err)
		}
		e := q.pop()
		if st := s.resp.Status; st != client.StatusStored {
			s.breakConn()
			return fmt.Errorf("%w: set %s%d on %s: %s %s", ErrPreload, s.cfg.KeyPrefix, e.key, s.addr, st, s.resp.Message)
		}
		done.Add(1)
	}
}
