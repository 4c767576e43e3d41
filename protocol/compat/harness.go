package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/server"
)

// NewKV makes a fresh, empty engine for one test; it registers its own
// cleanup with tb.
type NewKV func(tb testing.TB) kv.KV

// StartServer runs our server over kv on a free loopback port and returns
// its address; the server is shut down when the test ends.
func StartServer(tb testing.TB, kv kv.KV, opts server.Options) string {
	tb.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	srv, err := server.New(kv, opts)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case <-srv.Ready():
	case <-time.After(10 * time.Second):
		tb.Fatal("server did not start within 10s")
	}
	if srv.Addr() == nil {
		tb.Fatalf("server failed to listen: %v", <-served)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return srv.Addr().String()
}

// MemcachedPath is where the reference binary is looked for first.
const MemcachedPath = "/usr/bin/memcached"

// StartMemcached runs the reference memcached on a free loopback port with
// extra arguments, or skips the test when the binary is absent.
func StartMemcached(tb testing.TB, args ...string) string {
	tb.Helper()
	bin := MemcachedPath
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("memcached"); err != nil {
			missing(tb, "memcached binary not found (install Debian's memcached 1.6) - skipping the comparison with it")
		}
	}
	port := freePort(tb)
	argv := append([]string{"-U", "0", "-l", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)
	if os.Geteuid() == 0 {
		argv = append(argv, "-u", "nobody") // memcached refuses to run as root otherwise
	}
	cmd := exec.Command(bin, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start memcached: %v", err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			tb.Fatalf("memcached did not listen on %s: %v (stderr: %s)", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort asks the kernel for a port that is free right now.
func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sentinel ends every exchange so the reader knows the replies are
// complete: a miss whose opaque token comes back only with its reply. (A
// plain "mn" would not do: memcached flushes after each mn, so a case's own
// mn could look like the end.)
const (
	sentinel      = "mg zz-end-of-exchange Oend-of-exchange\r\n"
	sentinelReply = "EN Oend-of-exchange\r\n"
)

// Exchange writes chunks to a new connection to addr, pausing between them
// so that the server reads them separately, then the sentinel (unless the
// connection is expected to close), and returns everything read until the
// sentinel's reply or the server closing the connection.
func Exchange(addr string, chunks []string, expectClose bool, pause time.Duration) ([]byte, error) {
	if pause == 0 {
		pause = 15 * time.Millisecond
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	done := make(chan struct{})
	var got bytes.Buffer
	var readErr error
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				if !errors.Is(err, io.EOF) && !expectClose {
					readErr = err
				}
				return
			}
			if !expectClose && bytes.HasSuffix(got.Bytes(), []byte(sentinelReply)) {
				return
			}
		}
	}()
	for i, chunk := range chunks {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := io.WriteString(c, chunk); err != nil {
			if expectClose {
				break
			}
			return nil, fmt.Errorf("write chunk %d: %w", i, err)
		}
	}
	if !expectClose {
		if _, err := io.WriteString(c, sentinel); err != nil {
			return nil, err
		}
	}
	<-done
	if readErr != nil {
		return got.Bytes(), fmt.Errorf("read: %w (got %q)", readErr, got.Bytes())
	}
	out := got.Bytes()
	if !expectClose {
		out = bytes.TrimSuffix(out, []byte(sentinelReply))
	}
	return out, nil
}

// ExchangeSync is Exchange for Case.Sync: after each chunk it sends the
// sentinel and reads up to its reply, and "{cas}" in a chunk is replaced by the CAS
// last seen in the replies so far.
func ExchangeSync(addr string, chunks []string) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var got []byte
	buf := make([]byte, 64<<10)
	for i, chunk := range chunks {
		chunk = strings.ReplaceAll(chunk, "{cas}", lastCAS(got))
		if _, err := io.WriteString(c, chunk+sentinel); err != nil {
			return got, fmt.Errorf("write chunk %d: %w", i, err)
		}
		for bytes.Count(got, []byte(sentinelReply)) <= i {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return got, fmt.Errorf("read after chunk %d: %w (got %q)", i, err, got)
			}
		}
	}
	return got, nil
}
