package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-kv/dynamo/loadgen/fakeserver"
	"github.com/dynamo-kv/dynamo/loadgen/workload"
)

// instantConn is an in-memory connection to a server that answers every
// get with END, every set with STORED and every getv with END, so a
// benchmark measures the load generator alone.
type instantConn struct {
	net.Conn
	replies bytes.Buffer
}

func (c *instantConn) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		line := rest[:i+1]
		rest = rest[i+1:]
		switch {
		case bytes.HasPrefix(line, []byte("get")):
			c.replies.WriteString("END\r\n")
		case bytes.HasPrefix(line, []byte("set")), bytes.HasPrefix(line, []byte("putv")):
			rest = rest[dataLength(line)+2:]
			if line[0] == 'p' {
				c.replies.WriteString("STORED Y3R4\r\n")
			} else {
				c.replies.WriteString("STORED\r\n")
			}
		default:
			c.replies.WriteString("ERROR\r\n")
		}
	}
	return len(p), nil
}

// dataLength reads the <bytes> field (the fifth) of a storage command
// without allocating.
func dataLength(line []byte) int {
	for range 4 {
		line = line[bytes.IndexByte(line, ' ')+1:]
	}
	n := 0
	for _, c := range line {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func (c *instantConn) Read(p []byte) (int, error)       { return c.replies.Read(p) }
func (c *instantConn) Close() error                     { return nil }
func (c *instantConn) SetReadDeadline(time.Time) error  { return nil }
func (c *instantConn) SetWriteDeadline(time.Time) error { return nil }

func instantDial(context.Context, string) (net.Conn, error) { return &instantConn{}, nil }

// BenchmarkClosedLoop is the per-operation cost of the closed-loop driver
// (workload draw, encode, parse, record) with the network taken out; the
// fixed set-up of a run (histograms, payload) is amortised over b.N.
func BenchmarkClosedLoop(b *testing.B) {
	for _, tc := range []struct {
		name     string
		mix      string
		pipeline int
	}{{"get9set1/pipeline1", "get=9,set=1", 1}, {"get9set1/pipeline16", "get=9,set=1", 16}, {"cart/pipeline1", "cart=1", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			mix, _ := workload.ParseMix(tc.mix)
			b.ReportAllocs()
			b.ResetTimer()
			res, err := Run(context.Background(), Config{Targets: []string{"mem:1"}, Conns: 1, Pipeline: tc.pipeline,
				Ops: int64(max(b.N, 1)), Mix: mix, Dial: instantDial})
			if err != nil || res.Summary.All.Failed != 0 {
				b.Fatal(err, res.Summary.Errors)
			}
		})
	}
}

// nullServerEnv makes the test binary a null server (it answers every
// request at once) on the address it names, for benchmarks that need the
// server in another process: in this one its goroutines would compete with
// the drivers for the scheduler, which is what is being measured.
const nullServerEnv = "LOADGEN_TEST_NULL_SERVER"

func TestMain(m *testing.M) {
	if addr := os.Getenv(nullServerEnv); addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(l.Addr()) // the parent waits for this line
		_ = fakeserver.New(fakeserver.Options{Null: true}).Serve(l)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startNullServer runs the test binary as a null server in a child
// process and returns its address; the child is killed at cleanup.
func startNullServer(b *testing.B) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), nullServerEnv+"=127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("null server: %v", err)
	}
	return strings.TrimSpace(line)
}

// BenchmarkClosedLoopTCP drives a null server in another process over
// loopback with each closed-loop driver, 8 connections, pipeline 1: the
// difference between the drivers is the client's syscall and scheduling
// cost per operation. Compare with benchstat; ops/s is 1e9 / (ns/op).
func BenchmarkClosedLoopTCP(b *testing.B) {
	addr := startNullServer(b)
	for _, io := range closedDrivers() {
		b.Run(string(io)+"/conns8", func(b *testing.B) {
			mix, _ := workload.ParseMix("get=9,set=1")
			b.ReportAllocs()
			b.ResetTimer()
			res, err := Run(context.Background(), Config{Targets: []string{addr}, Conns: 8,
				Ops: int64(max(b.N, 8)), Mix: mix, IO: io})
			if err != nil || res.Summary.All.Failed != 0 {
				b.Fatal(err, res.Summary.Errors)
			}
		})
	}
}
