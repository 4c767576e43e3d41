// Command dynamod runs one node of the store: the memcached-protocol front
// end over the versioned engine. `dynamod -help` lists every setting.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	_ "net/http/pprof" // served only when -pprof is set
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main without the exit, so tests can drive it.
func run(args []string, stderr io.Writer) int {
	cfg, err := loadConfig(args, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "dynamod: %v\n", err)
		return 2
	}
	logger := log.New(stderr, "dynamod: ", log.LstdFlags)
	if os.Getenv("GOMAXPROCS") == "" {
		procs := cfg.Procs
		if procs == 0 {
			procs = 2 * runtime.NumCPU()
		}
		runtime.GOMAXPROCS(procs)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
	if cfg.Pprof != "" {
		go func() { logger.Printf("pprof: %v", http.ListenAndServe(cfg.Pprof, nil)) }()
	}
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		logger.Printf("data directory: %v", err)
		return 1
	}
	eng, err := engine.Open(engine.Options{
		Dir:              cfg.Data,
		Durability:       cfg.Durability,
		BufferBytes:      int64(cfg.BufferBytes),
		FlushInterval:    cfg.FlushEvery,
		SyncInterval:     cfg.SyncEvery,
		CacheBytes:       int64(cfg.CacheBytes),
		RecordCacheBytes: recordCache(cfg.RecordCache),
		MaxSiblings:      cfg.MaxSiblings,
		TombstoneTTL:     cfg.TombstoneTTL,
		// A cluster node's dead records go only when every replica agrees
		// (engine/cluster's reaping), never on the engine's own.
		Replicated: cfg.NodeID != "",
	})
	if err != nil {
		logger.Printf("opening store in %s: %v", cfg.Data, err)
		return 1
	}
	var kv kv.KV = eng
	var cn *clusterNode
	if cfg.NodeID != "" {
		if cn, err = startCluster(cfg, eng, logger); err != nil {
			eng.Close()
			logger.Printf("starting cluster mode: %v", err)
			return 1
		}
		kv = cn
	}
	closeAll := func() error {
		if cn != nil {
			cn.stop()
		}
		return eng.Close()
	}
	srv, err := server.New(kv, server.Options{
		Listen:      cfg.Listen,
		MaxConns:    cfg.MaxConns,
		IdleTimeout: cfg.IdleTimeout,
		MaxItemSize: int(cfg.ItemSizeMax),
		EventLoops:  cfg.EventLoops,
	})
	if err != nil {
		closeAll()
		logger.Printf("%v", err)
		return 2
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	select {
	case <-srv.Ready():
	case err := <-served:
		closeAll()
		logger.Printf("listening on %s: %v", cfg.Listen, err)
		return 1
	}
	if srv.Addr() == nil { // Serve failed; its error follows
		err := <-served
		closeAll()
		logger.Printf("listening on %s: %v", cfg.Listen, err)
		return 1
	}
	logger.Printf("serving memcached protocol on %s, data in %s, durability %s, actor %x",
		srv.Addr(), cfg.Data, cfg.Durability, eng.Actor())
	if cn != nil {
		logger.Printf("cluster node %s: gossip %s, internode %s, N=%d R=%d W=%d",
			cfg.NodeID, cn.members.GossipAddr(), cfg.Internode, cfg.N, cfg.R, cfg.W)
	}

	code := 0
	select {
	case sig := <-sigs:
		logger.Printf("%v: draining connections and flushing the write buffer", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			logger.Printf("shutdown: %v", err)
			code = 1
		}
		cancel()
	case err := <-served:
		if err != nil {
			logger.Printf("server stopped: %v", err)
			code = 1
		}
	}
	if err := closeAll(); err != nil {
		logger.Printf("closing store: %v", err)
		return 1
	}
	logger.Printf("stopped cleanly")
	return code
}

// recordCache maps the flag (0 = off) to the engine option (0 = default).
func recordCache(s size) int64 {
	if s == 0 {
		return -1
	}
	return int64(s)
}
