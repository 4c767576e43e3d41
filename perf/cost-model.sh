#!/usr/bin/env bash
# What one replicated request costs (issue 12's cost model; the table in
# docs/performance.md): for a set at W=2 and a get at R=2 (and at R=1,
# answered from the coordinator's copy with digest repair) on 3 nodes,
# N=3, the system calls, OS context switches, Go allocations and bytes
# allocated per request, and the time, from engine/cluster's
# BenchmarkPutGet: three nodes in one process over loopback TCP, one
# request at a time (no batching across requests is possible: this is the
# per-request cost at pipeline depth 1).
#
# Syscalls and context switches come from perf's tracepoints over the whole
# process (all three nodes: the coordinator's and both replicas' share),
# counted for OPS requests and for 1, and divided: setup cancels out.
#
#   perf/cost-model.sh              # OPS=20000
#   OPS=50000 perf/cost-model.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OPS=${OPS:-20000}
command -v perf >/dev/null || { echo "cost-model: needs perf (Debian: linux-perf)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/cluster.test" ./engine/cluster

events=raw_syscalls:sys_enter,syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_nanosleep,context-switches
count() { # op, n -> perf stat output file
  perf stat -x, -e "$events" -o "$work/$1-$2.perf" -- \
    "$work/cluster.test" -test.run '^$' -test.bench "^BenchmarkPutGet/$1\$" -test.benchtime "${2}x" -test.benchmem \
    >"$work/$1-$2.bench" 2>&1
}
val() { # file, event -> count
  awk -F, -v e="$2" '$3 == e {print $1}' "$1"
}
printf "%-8s %10s %8s %8s %8s %8s %8s %8s %8s %10s\n" op ns/op allocs B/op syscalls write read futex epoll ctxsw
for op in put get-R2 get-R1; do
  count "$op" "$OPS"
  count "$op" 1
  bench=$(grep -E "^BenchmarkPutGet/$op" "$work/$op-$OPS.bench" | tail -1)
  ns=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") print $i}' <<<"$bench")
  allocs=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "allocs/op") print $i}' <<<"$bench")
  bytes=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "B/op") print $i}' <<<"$bench")
  per() { # event -> per-op count
    local a b
    a=$(val "$work/$op-$OPS.perf" "$1"); b=$(val "$work/$op-1.perf" "$1")
    awk -v a="$a" -v b="$b" -v n="$OPS" 'BEGIN {printf "%.1f", (a - b) / (n - 1)}'
  }
  printf "%-8s %10s %8s %8s %8s %8s %8s %8s %8s %10s\n" "$op" "$ns" "$allocs" "$bytes" \
    "$(per raw_syscalls:sys_enter)" "$(per syscalls:sys_enter_write)" "$(per syscalls:sys_enter_read)" \
    "$(per syscalls:sys_enter_futex)" "$(per syscalls:sys_enter_epoll_pwait)" "$(per context-switches)"
done
