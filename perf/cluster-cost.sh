#!/usr/bin/env bash
# What a request costs a real 3-node cluster under load (issue 12): three
# dynamod processes (N=3 R=2 W=2, buffered) on 127.0.0.1, loadgen through
# all three (48 conns, get:set 10:1, 100 B values, 100k keys), and perf's
# tracepoints over the three nodes while it runs: throughput, latency, and
# CPU time (the three nodes' task-clock: with the machine shared and
# noisy, a steadier measure of cost than throughput), system calls,
# writes, reads and OS context switches per request, and the reads that
# hedged. perf/cost-model.sh is the same question one request
# at a time in one process; this one shows what concurrency batches.
#
# BINS lists dynamod builds to compare side by side (rounds alternate
# between them, so drift in the machine hits both):
#   git stash; make build; cp bin/dynamod /tmp/dynamod.before; git stash pop
#   make build; BINS="/tmp/dynamod.before bin/dynamod" perf/cluster-cost.sh
# Quote medians over rounds; one round varies by a fifth on this machine.
#
#   ROUNDS=3 PIPES="1 16" DURATION=8s perf/cluster-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
PIPES=${PIPES:-1 16}
DURATION=${DURATION:-8s}
BINS=${BINS:-bin/dynamod}
BASE=${BASE:-21610}
secs=${DURATION%s}
[ "$secs" -ge 4 ] 2>/dev/null || { echo "cluster-cost: DURATION must be whole seconds, at least 4s (perf counts the middle of the run)" >&2; exit 2; }
command -v perf >/dev/null || { echo "cluster-cost: needs perf (Debian: linux-perf)" >&2; exit 2; }
if ! err=$(perf stat -e raw_syscalls:sys_enter,context-switches -- true 2>&1 >/dev/null); then
  echo "cluster-cost: perf cannot count syscalls here (root, or kernel.perf_event_paranoid): $err" >&2
  exit 2
fi
make -s build
work=$(mktemp -d)
export DIR="$work/cluster" BASE
lpid=
cleanup() {
  [ -n "$lpid" ] && kill "$lpid" 2>/dev/null
  perf/cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
targets=127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2)),127.0.0.1:$((BASE + 3))
lg=(-target "$targets" -conns 48 -mix get=10,set=1 -value-size 100 -keys 100000 -quiet)

stat() { # name -> the sum over the three nodes of a stats counter
  local sum=0 v i
  for i in 1 2 3; do
    v=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "stats\r\nquit\r\n" >&3; cat <&3' _ $((BASE + i)) |
      tr -d '\r' | awk -v n="$1" '$1 == "STAT" && $2 == n {print $3}')
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

printf "%-5s %-24s %5s %10s %9s %9s %9s %8s %8s %8s %8s %8s %8s\n" round build pipe ops/s p50 p99 p99.9 cpu_us/op sys/op write/op read/op cs/op hedged
for r in $(seq 1 "$ROUNDS"); do
  for bin in $BINS; do
    rm -rf "$DIR"
    DYNAMOD=$bin perf/cluster.sh start 3 -- -n 3 -r 2 -w 2 -durability buffered >/dev/null
    perf/cluster.sh wait 3
    ./bin/loadgen "${lg[@]}" -preload 100000 -duration 1s >/dev/null
    pids=$(cat "$DIR"/n*/pid | paste -sd,)
    for p in $PIPES; do
      h0=$(stat cluster_read_hedges); g0=$(stat cluster_reads)
      ./bin/loadgen "${lg[@]}" -duration "$DURATION" -warmup 1s -pipeline "$p" -preload 0 >"$work/lg" &
      lpid=$!
      # Count over the middle of the run: after warm-up, before the end.
      sleep 2
      if ! perf stat -x, -e task-clock,raw_syscalls:sys_enter,syscalls:sys_enter_write,syscalls:sys_enter_read,context-switches \
        -p "$pids" -o "$work/perf" -- sleep $((secs - 3)) >/dev/null 2>"$work/perf.err"; then
        echo "cluster-cost: perf stat failed:" >&2; cat "$work/perf.err" >&2; exit 1
      fi
      wait "$lpid"
      lpid=
      h1=$(stat cluster_read_hedges); g1=$(stat cluster_reads)
      awk -v r="$r" -v b="$bin" -v p="$p" -v s=$((secs - 3)) -v hedged=$((h1 - h0)) -v reads=$((g1 - g0)) -v pf="$work/perf" '
        /^all / {ops = $2; p50 = $4; p99 = $6; p999 = $7}
        END {
          while ((getline line < pf) > 0) {
            n = split(line, f, ",")
            if (n >= 3) c[f[3]] = f[1]
          }
          n = ops * s
          h = reads > 0 ? sprintf("%.1f%%", 100 * hedged / reads) : "-"
          printf "%-5s %-24s %5s %10.0f %9s %9s %9s %8.1f %8.2f %8.2f %8.2f %8.2f %8s\n", r, b, p, ops, p50, p99, p999,
            1000 * c["task-clock"] / n, c["raw_syscalls:sys_enter"] / n, c["syscalls:sys_enter_write"] / n, c["syscalls:sys_enter_read"] / n, c["context-switches"] / n, h
        }' "$work/lg"
    done
    perf/cluster.sh stop >/dev/null
  done
done
