package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/wire/wiretest"
)

// buildDynamod compiles this command once per test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func dynamodBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dynamod-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "dynamod")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// freePort is a free loopback address below the ephemeral range: a node
// restarted on it is never dialled by a client that took it as its own.
func freePort(t *testing.T) string { return wiretest.LowAddr(t) }

// process is a dynamod child process.
type process struct {
	cmd  *exec.Cmd
	addr string
	logs *syncWriter // its stderr; read with String while it runs
}

func startNode(t *testing.T, dir, durability string) *process {
	t.Helper()
	addr := freePort(t)
	return startProcess(t, addr, "-listen", addr, "-data", dir, "-durability", durability)
}

// startProcess runs dynamod with args and waits until addr (its client
// port) accepts connections; the test's cleanup kills it if still running.
func startProcess(t *testing.T, addr string, args ...string) *process {
	t.Helper()
	n := &process{addr: addr, logs: &syncWriter{w: &strings.Builder{}}}
	n.cmd = exec.Command(dynamodBinary(t), args...)
	n.cmd.Stderr = n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			n.cmd.Process.Kill()
			n.cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("dynamod did not start listening on %s: %s", addr, n.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// String is what was written so far; safe while writes go on.
func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// mc is the smallest memcached text client the test needs.
type mc struct {
	c net.Conn
	r *bufio.Reader
}

func dialMC(t *testing.T, addr string) *mc {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &mc{c: c, r: bufio.NewReader(c)}
}

func (m *mc) set(key, val string) error {
	m.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(m.c, "set %s 0 0 %d\r\n%s\r\n", key, len(val), val); err != nil {
		return err
	}
	line, err := m.r.ReadString('\n')
	if err != nil {
		return err
	}
	if line != "STORED\r\n" {
		return fmt.Errorf("set %s: %q", key, line)
	}
	return nil
}

// get returns the value and whether the key was found.
func (m *mc) get(key string) (string, bool, error) {
	m.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(m.c, "get %s\r\n", key); err != nil {
		return "", false, err
	}
	line, err := m.r.ReadString('\n')
	if err != nil {
		return "", false, err
	}
	if line == "END\r\n" {
		return "", false, nil
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "VALUE" {
		return "", false, fmt.Errorf("get %s: %q", key, line)
	}
	n, _ := strconv.Atoi(f[3])
	buf := make([]byte, n+2)
	if _, err := ioReadFull(m.r, buf); err != nil {
		return "", false, err
	}
	if end, err := m.r.ReadString('\n'); err != nil || end != "END\r\n" {
		return "", false, fmt.Errorf("get %s: no END (%q, %v)", key, end, err)
	}
	return string(buf[:n]), true, nil
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestKillMidLoad SIGKILLs a node while writers are busy, restarts it on
// the same data directory and checks what each durability mode promises:
// in sync mode every acknowledged write is there; in every mode each key
// holds a value that was written to it (nothing torn, nothing invented) and
// no key went back before a version that a sync would have made durable.
func TestKillMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	for _, mode := range []string{"sync", "wal", "buffered"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			n := startNode(t, dir, mode)
			const writers = 8
			acked := make([]int, writers) // per writer: last acknowledged version (key = w)
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for w := range writers {
				wg.Go(func() {
					c := dialMC(t, n.addr)
					defer c.c.Close()
					for v := 1; v <= 100_000; v++ {
						select {
						case <-stop:
							return
						default:
						}
						if c.set(fmt.Sprint("key", w), fmt.Sprintf("w%d-v%d-%s", w, v, strings.Repeat("x", v%200))) != nil {
							return // the kill
						}
						acked[w] = v
					}
				})
			}
			time.Sleep(700 * time.Millisecond)
			n.cmd.Process.Signal(syscall.SIGKILL)
			n.cmd.Wait()
			close(stop)
			wg.Wait()

			n2 := startNode(t, dir, mode)
			c := dialMC(t, n2.addr)
			defer c.c.Close()
			total := 0
			for w := range writers {
				total += acked[w]
				val, found, err := c.get(fmt.Sprint("key", w))
				if err != nil {
					t.Fatalf("after restart: %v\n%s", err, n2.logs.String())
				}
				if !found {
					if mode == "sync" && acked[w] > 0 {
						t.Fatalf("key%d lost: version %d was acknowledged in sync mode", w, acked[w])
					}
					continue
				}
				var gw, gv int
				if _, err := fmt.Sscanf(val, "w%d-v%d-", &gw, &gv); err != nil || gw != w ||
					val != fmt.Sprintf("w%d-v%d-%s", w, gv, strings.Repeat("x", gv%200)) {
					t.Fatalf("key%d holds %q, which was never written to it", w, val)
				}
				if gv > acked[w]+1 {
					t.Fatalf("key%d holds version %d, beyond the %d written", w, gv, acked[w]+1)
				}
				if mode == "sync" && gv < acked[w] {
					t.Fatalf("key%d went back to version %d; %d was acknowledged in sync mode", w, gv, acked[w])
				}
			}
			if total == 0 {
				t.Fatal("no write was acknowledged before the kill; the test proved nothing")
			}
			t.Logf("%s: %d writes acknowledged before SIGKILL", mode, total)
		})
	}
}
