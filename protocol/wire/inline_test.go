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
// answers goes back with its answer and never reaches the handler, for
// concurrent callers too; one it declines goes to a worker and is
// answered there.
func TestInlineRequestsRunOnTheReader(t *testing.T) {
	var mu sync.Mutex
	var events []string
	log := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	h := loggingHandler{newTestHandler(), log}
	_, addr := startServer(t, h, ServerOptions{Inline: func(typ MsgType, payload, dst []byte) (MsgType, []byte, bool) {
		if typ != typeEcho {
			return 0, nil, false
		}
		log("inline " + string(payload))
		return typeEchoReply, append(dst, reversed(payload)...), true
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
	counts := map[string]int{}
	for _, e := range events {
		counts[e[:len(e)-3]]++ // "inline e", "handle e", "handle f"
	}
	if counts["inline e"] != calls || counts["handle e"] != 0 || counts["handle f"] != calls {
		t.Fatalf("events %v, want %d inline answers, none of them handled again, and %d declined requests handled", counts, calls, calls)
	}
}
