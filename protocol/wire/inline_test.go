package wire

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// loggingHandler logs each request it handles after the test handler.
type loggingHandler struct {
	*testHandler
	log func(string)
}

func (h loggingHandler) Handle(ctx context.Context, t MsgType, payload, dst []byte) (MsgType, []byte, error) {
	h.log("handle " + string(payload))
	return h.testHandler.Handle(ctx, t, payload, dst)
}

// TestInlineRequestsRunOnTheReader: a request that ServerOptions.Inline
// accepts is handled before the connection's reader reads the next one,
// so over one connection the log alternates between asking Inline and
// handling, for concurrent callers too. Requests it refuses still go to
// the workers and are answered.
func TestInlineRequestsRunOnTheReader(t *testing.T) {
	var mu sync.Mutex
	var events []string
	log := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	h := loggingHandler{newTestHandler(), log}
	_, addr := startServer(t, h, ServerOptions{Inline: func(typ MsgType, payload []byte) bool {
		if typ != typeEcho {
			return false
		}
		log("inline " + string(payload))
		return true
	}})
	p := newTestPool(t, Options{ConnsPerPeer: 1})
	const calls = 64
	var wg sync.WaitGroup
	errs := make(chan error, 2*calls)
	for i := range calls {
		wg.Go(func() {
			for _, typ := range []MsgType{typeEcho, typeFail} {
				req := fmt.Sprintf("e%03d", i) // inlined
				if typ == typeFail {
					req = fmt.Sprintf("f%03d", i) // to a worker
				}
				rt, resp, err := p.Call(ctxTimeout(t, 10*time.Second), addr, typ, []byte(req), nil)
				switch {
				case typ == typeEcho && (err != nil || rt != typeEchoReply || string(resp) != string(reversed([]byte(req)))):
					errs <- fmt.Errorf("echo %s: %v %d %q", req, err, rt, resp)
				case typ == typeFail && (err == nil || !strings.Contains(err.Error(), req)):
					errs <- fmt.Errorf("fail %s: %v", req, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var inline []string // the events of inlined requests, in order
	for _, e := range events {
		if strings.HasPrefix(e, "inline ") || strings.HasPrefix(e, "handle e") {
			inline = append(inline, e)
		}
	}
	if len(inline) != 2*calls {
		t.Fatalf("%d events of inlined requests, want %d", len(inline), 2*calls)
	}
	for i := 0; i < len(inline); i += 2 {
		if want := "handle " + strings.TrimPrefix(inline[i], "inline "); inline[i+1] != want {
			t.Fatalf("event %d is %q, want %q: the reader went on before the handler returned\n%v", i+1, inline[i+1], want, inline)
		}
	}
}
