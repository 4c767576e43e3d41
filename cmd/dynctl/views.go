package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dynamo-kv/dynamo/ring"
)

// printHints lays out "hints:OWNER count" lines, or says there are none.
func printHints(w io.Writer, node string, stats [][2]string) {
	if len(stats) == 0 {
		fmt.Fprintf(w, "no hints: %s holds no write owed to another node\n", node)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OWNER\tHINTS")
	for _, s := range stats {
		fmt.Fprintf(tw, "%s\t%s\n", strings.TrimPrefix(s[0], "hints:"), s[1])
	}
	tw.Flush()
}

// printTransfers lays out "admin transfers": the catch-up as a whole
// (with a progress bar when w is a terminal), the partitions being
// caught up, then the node's handoff counters.
func printTransfers(w io.Writer, node string, stats [][2]string) {
	var catching, counters [][2]string
	summary := map[string]string{}
	for _, s := range stats {
		switch {
		case strings.HasPrefix(s[0], "catching:"):
			catching = append(catching, s)
		case strings.HasPrefix(s[0], "catchup_"):
			summary[strings.TrimPrefix(s[0], "catchup_")] = s[1]
		default:
			counters = append(counters, s)
		}
	}
	if line := catchUpLine(summary, isTerminal(w)); line != "" {
		fmt.Fprintln(w, line)
	}
	if len(catching) == 0 {
		fmt.Fprintf(w, "%s is catching up no partition: it holds every partition it replicates\n", node)
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tPULLED FROM\tLEFT\tRECORDS\tBYTES\tAGE")
		for _, s := range catching {
			f := fields(s[1])
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", strings.TrimPrefix(s[0], "catching:"), dash(f["pulled"]), dash(f["left"]),
				dash(f["records"]), bytesOf(f["bytes"]), f["age"])
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	for _, s := range counters {
		fmt.Fprintf(w, "%s: %s\n", s[0], s[1])
	}
}

// catchUpLine says how far the catch-up has gone: partitions done of
// those marked, what was pulled, at what rate, and the time left at that
// pace; with bar, a progress bar first. "" when there was none.
func catchUpLine(f map[string]string, bar bool) string {
	done, total, ok := strings.Cut(f["partitions"], "/")
	if !ok {
		return ""
	}
	d, _ := strconv.Atoi(done)
	n, _ := strconv.Atoi(total)
	var b strings.Builder
	if bar && n > 0 {
		const width = 30
		fill := d * width / n
		fmt.Fprintf(&b, "[%s%s] %3d%%  ", strings.Repeat("#", fill), strings.Repeat(".", width-fill), d*100/n)
	}
	fmt.Fprintf(&b, "caught up %s of %s partitions; pulled %s records (%s) in %s", done, total, dash(f["records"]), bytesOf(f["bytes"]), dash(f["elapsed"]))
	if r := f["records_per_sec"]; r != "" {
		fmt.Fprintf(&b, ", %s records/s", r)
	}
	if eta := f["eta"]; eta != "" {
		fmt.Fprintf(&b, "; about %s left at this pace", eta)
	}
	return b.String()
}

// bytesOf writes a byte count in binary units ("-" when absent).
func bytesOf(s string) string {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "-"
	}
	const unit = 1024
	if v < unit {
		return fmt.Sprintf("%d B", v)
	}
	div, exp := int64(unit), 0
	for n := v / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(v)/float64(div), "KMGTPE"[exp])
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// printRing decodes "admin ring" and lays it out: the ring, each member's
// share, then runs of partitions with one preference list.
func printRing(w io.Writer, stats [][2]string) error {
	clients := map[string]string{}
	var blob string
	for _, s := range stats {
		switch {
		case s[0] == "ring":
			blob = s[1]
		case strings.HasPrefix(s[0], "client:"):
			clients[strings.TrimPrefix(s[0], "client:")] = s[1]
		}
	}
	if blob == "" {
		return errors.New("the node holds no ring yet")
	}
	b, err := base64.StdEncoding.DecodeString(blob)
	if err != nil {
		return fmt.Errorf("the ring it sent: %w", err)
	}
	r, err := ring.Decode(b)
	if err != nil {
		return fmt.Errorf("the ring it sent: %w", err)
	}
	q, n := r.Partitions(), min(r.Config().Replicas, r.Len())
	fmt.Fprintf(w, "ring v%d: %d partitions, N=%d, %d members\n\n", r.Version(), q, n, r.Len())
	owned := map[string]int{}
	for _, id := range r.Owners() {
		owned[id]++
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tZONE\tWEIGHT\tOWNS\tSHARE\tREPLICA OF\tCLIENT")
	for _, m := range r.Members() {
		fmt.Fprintf(tw, "%s\t%s\t%g\t%d\t%.1f%%\t%d\t%s\n", m.ID, dash(m.Zone), m.Weight, owned[m.ID],
			100*float64(owned[m.ID])/float64(q), len(r.Replicated(m.ID)), dash(clients[m.ID]))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITIONS\tHASHES\tPREFERENCE LIST")
	for start := 0; start < q; {
		list, err := r.PreferenceList(start, n, nil)
		if err != nil {
			return err
		}
		end := start + 1
		for ; end < q; end++ {
			next, err := r.PreferenceList(end, n, nil)
			if err != nil || strings.Join(next, " ") != strings.Join(list, " ") {
				break
			}
		}
		lo, _ := r.PartitionRange(start)
		_, hi := r.PartitionRange(end - 1)
		parts := fmt.Sprint(start)
		if end-1 > start {
			parts = fmt.Sprintf("%d-%d", start, end-1)
		}
		fmt.Fprintf(tw, "%s\t%016x-%016x\t%s\n", parts, lo, hi-1, strings.Join(list, " "))
		start = end
	}
	return tw.Flush()
}

// followLeave polls a leaving node until it holds no record and no hint
// (its handoff is done: it may be stopped), printing what it still holds
// as that changes, for at most wait.
func followLeave(w io.Writer, node string, timeout, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	last := ""
	for {
		st, err := query(node, "stats", timeout)
		if err != nil {
			return err
		}
		f := map[string]string{}
		for _, s := range st {
			f[s[0]] = s[1]
		}
		records, hints := f["curr_items"], f["engine_hints_held"]
		if now := fmt.Sprintf("holds %s items and %s hints", records, hints); now != last {
			fmt.Fprintf(w, "%s %s\n", time.Now().Format("15:04:05"), now)
			last = now
		}
		// Done when it gossips "drained": no record (tombstones count,
		// curr_items does not) and no hint.
		status, err := admin(node, "status", timeout)
		if err != nil {
			return err
		}
		self := ""
		for _, s := range status {
			if s[0] == "node" {
				self = s[1]
			}
		}
		for _, s := range status {
			if s[0] == "member:"+self && fields(s[1])["state"] == "drained" {
				fmt.Fprintf(w, "%s (%s) has left the ring and holds nothing: it may be stopped\n", self, node)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still %s after %v; its handoff goes on (dynctl transfers on the others shows what they catch up)", last, wait)
		}
		time.Sleep(time.Second)
	}
}

// fields splits "k=v,k=v".
func fields(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// followRemove waits until node's ring records id as removed, then says
// what happens next.
func followRemove(w io.Writer, node, id string, timeout, wait time.Duration) error {
	fmt.Fprintf(w, "asked to remove %s for good; waiting for the claimant's ring\n", id)
	deadline := time.Now().Add(wait)
	for {
		status, err := admin(node, "status", timeout)
		if err != nil {
			return err
		}
		f := map[string]string{}
		for _, s := range status {
			f[s[0]] = s[1]
		}
		if slices.Contains(strings.Split(f["removed"], ","), id) {
			fmt.Fprintf(w, "%s is out of the ring (version %s) for good; its partitions' new owners rebuild them from the surviving replicas (dynctl transfers on each shows the catch-up)\n", id, f["ring_version"])
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the ring has not removed %s after %v; the request stands (is the claimant, %s, up?)", id, wait, dash(f["claimant"]))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
