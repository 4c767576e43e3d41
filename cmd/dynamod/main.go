// Command dynamod runs one node of the store: the memcached-protocol front
// end over the versioned engine. `dynamod -help` lists every setting.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when -pprof is set
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/dynamo-kv/dynamo/cmd/internal/buildinfo"
	"github.com/dynamo-kv/dynamo/engine/node"
	"github.com/dynamo-kv/dynamo/protocol/memcache"
	"github.com/dynamo-kv/dynamo/protocol/metrics"
	"github.com/dynamo-kv/dynamo/protocol/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main without the exit, so tests can drive it.
func run(args []string, stderr io.Writer) int {
	if buildinfo.Asked(args) {
		fmt.Fprintln(os.Stdout, buildinfo.Line("dynamod"))
		return 0
	}
	cfg, err := loadConfig(args, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "dynamod: %v\n", err)
		return 2
	}
	logger := cfg.logger(stderr)
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
		go func() { logger.Error("pprof server stopped", "err", http.ListenAndServe(cfg.Pprof, nil)) }()
	}
	opts, err := cfg.nodeOptions(logger)
	if err != nil {
		fmt.Fprintf(stderr, "dynamod: %v\n", err)
		return 2
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		fmt.Fprintf(stderr, "dynamod: %v\n", err)
		return 2
	}
	auth, err := cfg.authFile()
	if err != nil {
		fmt.Fprintf(stderr, "dynamod: %v\n", err)
		return 2
	}
	nd, err := node.Open(opts)
	if err != nil {
		logger.Error("opening the node", "err", err)
		return 1
	}
	var latency *metrics.Latency
	if cfg.Metrics != "" {
		latency = metrics.NewLatency()
	}
	srv, err := server.New(nd.KV(), server.Options{
		Latency:     latencyRecorder(latency),
		Listen:      cfg.Listen,
		MaxConns:    cfg.MaxConns,
		IdleTimeout: cfg.IdleTimeout,
		MaxItemSize: int(cfg.ItemSizeMax),
		EventLoops:  cfg.EventLoops,
		TLS:         tlsCfg,
		Auth:        auth,
		// A coordinator waits on replicas: run a pipeline's commands at once.
		ConcurrentBatches: cfg.NodeID != "",
	})
	if err != nil {
		nd.Close()
		logger.Error("starting the server", "err", err)
		return 2
	}

	if cfg.Metrics != "" {
		ln, err := net.Listen("tcp", cfg.Metrics)
		if err != nil {
			nd.Close()
			fmt.Fprintf(stderr, "dynamod: -metrics %s: %v\n", cfg.Metrics, err)
			return 2
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler(srv.Stats, latency))
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		defer ms.Close()
		go func() {
			if err := ms.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics server stopped", "err", err)
			}
		}()
		logger.Info("serving Prometheus metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	select {
	case <-srv.Ready():
	case err := <-served:
		nd.Close()
		logger.Error("listening", "addr", cfg.Listen, "err", err)
		return 1
	}
	if srv.Addr() == nil { // Serve failed; its error follows
		err := <-served
		nd.Close()
		logger.Error("listening", "addr", cfg.Listen, "err", err)
		return 1
	}
	logger.Info("serving the memcached protocol", "addr", srv.Addr().String(), "data", cfg.Data,
		"durability", cfg.Durability.String(), "actor", fmt.Sprintf("%x", nd.Engine().Actor()),
		"tls", cfg.TLSCert != "", "auth", cfg.AuthFile != "")
	if cfg.NodeID != "" {
		logger.Info("cluster node", "node", cfg.NodeID, "gossip", nd.GossipAddr(), "internode", nd.InternodeAddr(),
			"n", cfg.N, "r", cfg.R, "w", cfg.W,
			"internode_tls", cfg.InternodeTLSCert != "", "gossip_encrypted", cfg.GossipKeyFile != "")
		if cfg.InternodeTLSCert == "" && !loopback(nd.InternodeAddr()) {
			logger.Warn("the internode port is beyond loopback without -internode-tls-cert/-key/-ca: any process that reaches it can read and write replicas; run on a trusted network or give every node a certificate of the cluster's CA",
				"internode", nd.InternodeAddr())
		}
	}

	code := 0
	select {
	case sig := <-sigs:
		logger.Info("draining connections and flushing the write buffer", "signal", sig.String())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			logger.Error("shutdown", "err", err)
			code = 1
		}
		cancel()
	case err := <-served:
		if err != nil {
			logger.Error("server stopped", "err", err)
			code = 1
		}
	case <-nd.Removed():
		logger.Error("this node was removed from the cluster for good (dynctl remove); stopping. Its data directory is kept as it was; to serve again, start with an empty one under a new -node-id")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		code = 1
	}
	if err := nd.Close(); err != nil {
		logger.Error("closing the store", "err", err)
		return 1
	}
	logger.Info("stopped cleanly")
	return code
}

// latencyRecorder is l as the server's recorder: nil (untimed) when nil.
func latencyRecorder(l *metrics.Latency) memcache.LatencyRecorder {
	if l == nil {
		return nil
	}
	return l
}
