package membership

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

// memberlist's lines reach the node's logger at the level they name.
func TestMemberlistLinesKeepTheirLevel(t *testing.T) {
	for _, tc := range []struct{ line, level, msg string }{
		{"[WARN] memberlist: Refuting a suspect message (from: n2)\n", "WARN", "Refuting a suspect message (from: n2)"},
		{"[ERR] memberlist: Failed to send ping: timeout\n", "ERROR", "Failed to send ping: timeout"},
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:1\n", "DEBUG", "Stream connection from=127.0.0.1:1"},
		{"[INFO] memberlist: Marking n3 as failed\n", "INFO", "Marking n3 as failed"},
		{"no prefix at all\n", "INFO", "no prefix at all"},
	} {
		var buf bytes.Buffer
		w := memberlistLog{slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		if _, err := w.Write([]byte(tc.line)); err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("%q: %v (%s)", tc.line, err, buf.String())
		}
		if rec["level"] != tc.level || rec["msg"] != tc.msg || rec["from"] != "memberlist" {
			t.Errorf("%q logged as %v", tc.line, rec)
		}
	}
}
