package store

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// killChildDirEnv tells a re-executed test binary to act as the writer
// child of TestSIGKILLKeepsSyncWrites, writing into that directory.
const killChildDirEnv = "STORE_KILL_CHILD_DIR"

// killValue is the value the child writes under key, so the parent can
// check it without a side channel. Sizes vary from tens of bytes to 64 KiB.
func killValue(key string) []byte {
	var sum uint32
	for _, c := range []byte(key) {
		sum = sum*31 + uint32(c)
	}
	n := int(sum % 4096)
	if sum%16 == 0 {
		n = 64 << 10
	}
	return append([]byte(key+"="), bytes.Repeat([]byte{byte(sum)}, n)...)
}

// TestSIGKILLKeepsSyncWrites runs a child process that writes in Sync mode
// to a real directory and prints every acknowledged key, SIGKILLs it in the
// middle of its load, reopens the store and checks that every acknowledged
// key is there with its value.
func TestSIGKILLKeepsSyncWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChildWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	const killAfter = 2000 // acknowledgements
	acked := map[string]bool{}
	lines := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	killed := false
	for lines.Scan() {
		key, ok := strings.CutPrefix(lines.Text(), "ACK ")
		if !ok {
			continue
		}
		acked[key] = true
		if !killed && len(acked) >= killAfter {
			// Acknowledgements already printed, and any still in the pipe,
			// were made before the kill: all of them must survive.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before %d acknowledgements (got %d): %v", killAfter, len(acked), err)
	}

	s := mustOpen(t, Options{Dir: dir, CacheBytes: 8 << 20})
	for key := range acked {
		got, found, err := s.Get([]byte(key), nil)
		if err != nil || !found || !bytes.Equal(got, killValue(key)) {
			t.Fatalf("acknowledged key %s: found=%v, %d bytes, %v", key, found, len(got), err)
		}
	}
	recovered := 0
	err = s.Scan(nil, nil, func(k, v []byte) bool {
		recovered++
		if !bytes.Equal(v, killValue(string(k))) {
			t.Errorf("key %s recovered with a wrong value (%d bytes)", k, len(v))
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged keys all present; %d keys recovered in total", len(acked), recovered)
}

// TestKillChildWriter is the child of TestSIGKILLKeepsSyncWrites; it does
// nothing unless started by it. Eight goroutines write fresh keys in Sync
// mode and print "ACK key" after each acknowledgement, until killed (or,
// as a bound, after 50,000 writes or 25 s).
func TestKillChildWriter(t *testing.T) {
	dir := os.Getenv(killChildDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestSIGKILLKeepsSyncWrites")
	}
	s, err := Open(Options{Dir: dir, Durability: Sync, CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var out sync.Mutex
	stop := time.Now().Add(25 * time.Second)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50000/8 && time.Now().Before(stop); i++ {
				key := fmt.Sprintf("g%d-%06d", g, i)
				if err := s.Set([]byte(key), killValue(key), DurabilityDefault); err != nil {
					t.Error(err)
					return
				}
				out.Lock()
				_, _ = os.Stdout.WriteString("ACK " + key + "\n") // one write(2) per line
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	_ = s.Close()
}
