package compat

import (
	"testing"

	"github.com/dynamo-kv/dynamo/engine"
	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/internal/fakekv"
)

func newFake(testing.TB) kv.KV { return fakekv.New(nil) }

func TestDifferential(t *testing.T) {
	RunDifferential(t, newFake, DiffCases)
}

func TestClients(t *testing.T) {
	RunClients(t, newFake)
}

// newEngine opens the real engine in a temporary directory.
func newEngine(tb testing.TB) kv.KV {
	e, err := engine.Open(engine.Options{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("engine.Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("engine.Close: %v", err)
		}
	})
	return e
}

func TestDifferentialEngine(t *testing.T) {
	RunDifferential(t, newEngine, DiffCases)
}

func TestClientsEngine(t *testing.T) {
	RunClients(t, newEngine)
}
