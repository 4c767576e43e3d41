#!/usr/bin/env bash
# What a join costs the foreground, with and without the admission
# controller (issue 10; docs/architecture.md, "Background work yields").
#
# For each mode (throttled: the controller on; unthrottled: every
# background task at its ceiling, -background-unthrottled) it starts a
# 3-node cluster (N=3 R=2 W=2, buffered) on 127.0.0.1, preloads KEYS keys
# of VALUE bytes, measures the cluster's closed-loop capacity once, then
# drives an open-loop workload at half of it (get:set 9:1 over the same
# keys): IDLE seconds with no background work, then through the join of a
# fourth node until the join is done (the four nodes hold exactly three
# copies of every key again, for STILL seconds: the old owners handed off
# and dropped what they no longer own), at most JOIN_MAX seconds. It prints each phase's p99 and p99.9, and ends with
# one line a script can read:
#
#   join: idle p99.9 A ms, throttled B ms (B/A = x.xx), unthrottled C ms, join took Ts throttled / Us unthrottled
#
#   perf/bench-join.sh                      # 1,000,000 keys of 1 KB (about 10 minutes)
#   KEYS=100000 IDLE=10 perf/bench-join.sh  # quicker
#   MODES=throttled perf/bench-join.sh       # one mode
#
# Processes are ours, stopped by PID; data lives in a temporary directory
# (TMPDIR= puts it elsewhere).
#
# Two things of this machine weigh on the tail, and the script answers
# both. Its kernel runs DAMON with a pageout scheme: a page of the page
# cache not touched for about 60 s is reclaimed, so at 1,000,000 keys
# most reads that miss Pebble's block cache (8 MB by default) went to the
# disk, 4 MB a second of them, and a hiccup of the disk stalled every
# node's reads at once. Each node therefore gets a block cache that holds
# its data (CACHE= bytes, default 1.5 × KEYS × VALUE), filled by a
# warm-up that reads the key space twice over before the idle phase
# (WARM=0: none). And a probe (bin/stallprobe) sleeps 1 ms in a loop
# beside the run: each phase reports the wake-ups it saw more than 10 ms
# late, a stall of the machine rather than of the nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
VALUE=${VALUE:-1024}
# 64 connections of one request each: at half capacity each carries about
# 30 requests a second, so a connection is rarely busy when its next
# request falls due. With 16, a request every 8 ms per connection met a
# mean latency of 4 ms under the join, and the wait for the connection
# (charged to the target in open loop) made the p99 13 times the server's
# own (249 ms against 19 ms from a probe on its own connection).
CONNS=${CONNS:-64}
# 60 s: a p99.9 of 20 s at 1,930 requests a second is the 39th slowest
# request, one stall (154 ms in one run and 36 ms in another).
IDLE=${IDLE:-60}
SETTLE_MAX=${SETTLE_MAX:-120}
STILL=${STILL:-5}
# AFTER seconds of the same load once the join is done (0: none).
AFTER=${AFTER:-$IDLE}
JOIN_MAX=${JOIN_MAX:-900}
# Nodes log a request slower than SLOW with what each replica did (one
# line a second at most): where a stall in the join's timeline came from.
SLOW=${SLOW:-50ms}
BASE=${BASE:-21410}
OUT=${OUT:-perf/results}
CACHE=${CACHE:-$((KEYS * VALUE * 3 / 2))}
WARM=${WARM:-1}
make -s build
mkdir -p "$OUT"
work=$(mktemp -d)
lg="" smp="" prb=""
cleanup() {
  [ -n "$lg" ] && kill "$lg" 2>/dev/null || true
  [ -n "$smp" ] && kill "$smp" 2>/dev/null || true
  [ -n "$prb" ] && kill "$prb" 2>/dev/null || true
  DIR="$work/cluster" BASE=$BASE perf/cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

targets="127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2)),127.0.0.1:$((BASE + 3))"

./bin/stallprobe -duration 4h >"$OUT/stalls.txt" &
prb=$!
now_ms() { date +%s%3N; }
# stalls FROM_MS TO_MS: the machine's stalls the probe saw in that window.
stalls() {
  awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b {n++; if ($2 > m) m = $2} END {
    if (n == 0) print "machine stalls (stallprobe, > 10 ms late): none"
    else printf "machine stalls (stallprobe, > 10 ms late): %d, longest %.0f ms\n", n, m }' "$OUT/stalls.txt"
}

# stat PORT NAME: one `stats` value of the node on PORT.
stat() {
  local v
  v=$(exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'stats\r\nquit\r\n' >&3 && tr -d '\r' <&3 | awk -v k="$2" '$1 == "STAT" && $2 == k {print $3}')
  echo "${v:-0}"
}

# ms VALUE-WITH-UNIT: milliseconds.
ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /µs$|us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

# cpu_ticks PID: the user + system clock ticks the process has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# rq_wait PID: nanoseconds the process's threads have waited on a run
# queue, and the time slices they have run (the kernel's schedstat).
rq_wait() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{w += $2; n += $3} END {printf "%.0f %.0f\n", w, n}'; }

# disk_read PID: the bytes the process has had read from the disk (not
# from the page cache).
disk_read() { awk '$1 == "read_bytes:" {print $2}' "/proc/$1/io" 2>/dev/null || echo 0; }

# sample FILE: every SAMPLE seconds, one line per node of what its
# controller sees and does and what the node costs (CPU % of one core
# since the line before), until killed. Where a tail comes from is read
# against loadgen's per-second slowest request (the JSON's timeline).
SAMPLE=${SAMPLE:-5}
sample() {
  local file=$1 t0 i pid now prev=() cur hz rqprev=() rq rdprev=() rd
  hz=$(getconf CLK_TCK)
  t0=$(date +%s)
  printf '%-5s %-3s %5s %6s %7s %9s %9s %8s %8s %6s %8s %8s %8s %6s %9s %5s %8s\n' t node cpu% rq_us rd_KB/s win_p99us target_us win_reqs sched_us q_bo catchup transfer handoff aae compact_B/s l0 stalls >"$file"
  while :; do
    now=$(($(date +%s) - t0))
    for i in 1 2 3 4; do
      pid=$(cat "$work/cluster/n$i/pid" 2>/dev/null) || continue
      cur=$(cpu_ticks "$pid")
      local pct=-
      [ -n "${prev[$i]:-}" ] && pct=$(((cur - prev[i]) * 100 / hz / SAMPLE))
      prev[i]=$cur
      # rq_us: the mean wait for a CPU per time slice since the line before.
      rq=$(rq_wait "$pid")
      local rqus=-
      [ -n "${rqprev[$i]:-}" ] && rqus=$(awk -v a="${rqprev[$i]}" -v b="$rq" 'BEGIN {split(a, x, " "); split(b, y, " "); n = y[2] - x[2]; v = 0; if (n > 0) v = (y[1] - x[1]) / n / 1000; printf "%.0f", v}')
      rqprev[i]=$rq
      # rd_KB/s: what the node read from the disk since the line before.
      rd=$(disk_read "$pid")
      local rdk=-
      [ -n "${rdprev[$i]:-}" ] && rdk=$(((rd - rdprev[i]) / 1024 / SAMPLE))
      rdprev[i]=$rd
      local s
      s=$(exec 3<>"/dev/tcp/127.0.0.1/$((BASE + i))" && printf 'stats\r\nquit\r\n' >&3 && tr -d '\r' <&3) || continue
      printf '%-5s n%-2s %5s %6s %7s %9s %9s %8s %8s %6s %8s %8s %8s %6s %9s %5s %8s\n' "$now" "$i" "$pct" "$rqus" "$rdk" $(awk '$1 == "STAT" {v[$2] = $3} END {
        split("bg_window_p99_us bg_target_p99_us bg_window_requests bg_queue_sched_p99_us bg_backoffs_queueing bg_catchup_rate bg_transfer_rate bg_handoff_rate bg_aae_rate bg_compact_rate pebble_l0_files pebble_write_stalls", k, " ")
        for (j = 1; j <= 12; j++) printf "%s ", (k[j] in v ? v[k[j]] : "-") }' <<<"$s") >>"$file"
    done
    sleep "$SAMPLE"
  done
}

# worst_seconds JSON N: the N seconds of a loadgen run with the slowest
# requests, as "t=SECONDS max=MS".
worst_seconds() {
  python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
pts = sorted((p for p in d.get("timeline") or [] if p.get("measured")), key=lambda p: -p["max_ms"])[:int(sys.argv[2])]
print(" ".join("t=%d max=%.0fms" % (p["t"], p["max_ms"]) for p in sorted(pts, key=lambda p: p["t"])))' "$1" "$2" 2>/dev/null || echo "(no timeline)"
}

# all_row FILE: the p99 and p99.9 columns of the "all" row, with units.
all_row() { awk '/^all /{print $6, $7}' "$1"; }

run_mode() { # mode (throttled|unthrottled) -> sets idle_p999, join_p999, join_secs
  local mode=$1 flags=(-slow-request "$SLOW" -cache-bytes "$CACHE")
  [ "$mode" = unthrottled ] && flags+=(-background-unthrottled)
  DIR="$work/cluster" BASE=$BASE perf/cluster.sh start 3 -- -n 3 -r 2 -w 2 "${flags[@]}" >/dev/null
  DIR="$work/cluster" BASE=$BASE perf/cluster.sh wait 3
  echo "== $mode: preloading $KEYS keys of $VALUE B"
  ./bin/loadgen -target "$targets" -conns "$CONNS" -keys "$KEYS" -value-size "$VALUE" -preload "$KEYS" \
    -mix get=1 -duration 1s -quiet -max-errors 100% >/dev/null
  # Measured in every run, RATE= or not: it also warms the caches the
  # preload left cold, which would otherwise weigh on the idle phase alone.
  ./bin/loadgen -target "$targets" -conns "$CONNS" -keys "$KEYS" -value-size "$VALUE" -mix get=9,set=1 \
    -duration 5s -warmup 1s -quiet -preload 0 >"$work/capacity.txt"
  # Both modes run at the first mode's rate, so they compare.
  local capacity rate=${RATE:-$first_rate}
  capacity=$(awk '/^all /{print $2}' "$work/capacity.txt")
  [ -n "$rate" ] || rate=$(awk -v c="$capacity" 'BEGIN {printf "%d", c / 2}')
  first_rate=$rate
  echo "   capacity $capacity ops/s closed loop; open loop at $rate ops/s${RATE:+ (RATE)}"
  # The preload leaves the stores compacting (25 level-0 files per node
  # at 1,000,000 keys); an idle phase measured over that is not idle.
  # Settled: no compaction debt, or SETTLE_MAX seconds. Pebble's debt
  # estimate counts level 0's files whether or not it means to compact
  # them, so the wait usually runs its full SETTLE_MAX, during which the
  # compactions run unpaced (no client latency to back off for). Ending it
  # early, once no compaction ran or finished for 10 s, left 870 MB of
  # debt at 1,000,000 keys: paced at their floor under the idle load, the
  # compactions let level 0 grow from 8 to 49 files, each node went from
  # 28 to 55 % of a core under the same load, and the idle p99.9 was
  # 547 ms (docs/operations.md).
  local t=0 debt running
  while :; do
    debt=0 running=0
    for i in 1 2 3; do
      debt=$((debt + $(stat $((BASE + i)) pebble_compaction_debt)))
      running=$((running + $(stat $((BASE + i)) pebble_compactions_in_progress)))
    done
    [ "$debt" -eq 0 ] || [ "$t" -ge "$SETTLE_MAX" ] && break
    sleep 5
    t=$((t + 5))
  done
  echo "   compactions settled for ${t}s (debt left $debt bytes, $running compactions running)"
  if [ "$WARM" != 0 ]; then
    # Every phase reads from a warm block cache: 2 × KEYS random gets
    # touch 86 % of the keys, and most blocks hold several.
    local w0=$SECONDS
    ./bin/loadgen -target "$targets" -conns "$CONNS" -pipeline 8 -keys "$KEYS" -value-size "$VALUE" -mix get=1 \
      -ops $((2 * KEYS)) -duration 900s -quiet -preload 0 -max-errors 100% >/dev/null
    echo "   block caches warmed ($((CACHE >> 20)) MB each) in $((SECONDS - w0))s"
  fi
  local common=(-target "$targets" -conns "$CONNS" -keys "$KEYS" -value-size "$VALUE" -mix get=9,set=1 -rate "$rate" -warmup 1s -quiet -preload 0)
  sample "$OUT/$mode-idle-samples.txt" &
  smp=$!
  local p0
  p0=$(now_ms)
  ./bin/loadgen "${common[@]}" -duration "${IDLE}s" >"$work/$mode-idle.txt"
  kill "$smp" 2>/dev/null || true
  wait "$smp" 2>/dev/null || true
  echo "   idle:   p99 / p99.9 $(all_row "$work/$mode-idle.txt"); $(stalls "$p0" "$(now_ms)")"

  ./bin/loadgen "${common[@]}" -duration "${JOIN_MAX}s" -max-errors 100% -json "$work/$mode-join.json" >"$work/$mode-join.txt" &
  lg=$!
  p0=$(now_ms)
  sample "$OUT/$mode-samples.txt" &
  smp=$!
  sleep 2
  local t0 t1 still=0 ready=-
  t0=$(date +%s)
  DIR="$work/cluster" BASE=$BASE perf/cluster.sh start 4 -- -n 3 -r 2 -w 2 "${flags[@]}" >/dev/null
  # Done when the four nodes hold N=3 copies of each key again (the old
  # owners dropped what they handed off) and that held for STILL seconds.
  while :; do
    sleep 1
    local held=0 i
    for i in 1 2 3 4; do held=$((held + $(stat $((BASE + i)) curr_items))); done
    # The joiner is caught up (it serves reads from its own copy) before
    # the old owners have dropped what they handed off.
    if [ "$ready" = - ] && [ "$(stat $((BASE + 4)) curr_items)" -gt 0 ] && [ "$(stat $((BASE + 4)) cluster_partitions_catching_up)" = 0 ]; then
      ready=$(($(date +%s) - t0))
    fi
    if [ "$held" -eq $((3 * KEYS)) ] && [ "$(stat $((BASE + 4)) curr_items)" -gt 0 ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -ge "$STILL" ] && break
    if [ $(($(date +%s) - t0)) -ge "$JOIN_MAX" ]; then echo "   join not done after ${JOIN_MAX}s ($held copies held, want $((3 * KEYS)))" >&2; still=0; break; fi
  done
  t1=$(($(date +%s) - still)) # the STILL seconds of checking are not the join's
  join_secs=$((t1 - t0))
  kill -INT "$lg" 2>/dev/null || true # it has ended by itself when the join ran JOIN_MAX
  wait "$lg" || true
  lg=""
  kill "$smp" 2>/dev/null || true
  wait "$smp" 2>/dev/null || true
  smp=""
  echo "   join:   p99 / p99.9 $(all_row "$work/$mode-join.txt"); took ${join_secs}s (the joiner caught up in ${ready}s); n4 holds $(stat $((BASE + 4)) curr_items) keys; $(stalls "$p0" "$(now_ms)")"
  echo "   slowest seconds of the join: $(worst_seconds "$work/$mode-join.json" 10); per-node samples in $OUT/$mode-samples.txt"
  # The same load on the four nodes once the join is over: what a fourth
  # process on these cores costs with no background work, which the join
  # phase pays too and no controller can take back.
  if [ "$AFTER" -gt 0 ]; then
    sample "$OUT/$mode-after-samples.txt" &
    smp=$!
    p0=$(now_ms)
    ./bin/loadgen "${common[@]}" -duration "${AFTER}s" -max-errors 100% >"$work/$mode-after.txt"
    kill "$smp" 2>/dev/null || true
    wait "$smp" 2>/dev/null || true
    smp=""
    echo "   after:  p99 / p99.9 $(all_row "$work/$mode-after.txt") (four nodes, the join over); $(stalls "$p0" "$(now_ms)")"
  fi
  for i in 1 2 3 4; do
    echo "   n$i: handed off $(stat $((BASE + i)) cluster_handed_off), anti-entropy exchanges $(stat $((BASE + i)) cluster_aae_exchanges) repaired $(stat $((BASE + i)) cluster_aae_keys_repaired), read repairs $(stat $((BASE + i)) cluster_read_repairs), hints delivered $(stat $((BASE + i)) cluster_hints_delivered)"
  done
  cp "$work/$mode-idle.txt" "$work/$mode-join.txt" "$work/$mode-join.json" "$work/$mode-after.txt" "$OUT/" 2>/dev/null || true
  for i in 1 2 3 4; do cp "$work/cluster/n$i/log" "$OUT/$mode-n$i.log" 2>/dev/null || true; done
  idle_p999=$(ms "$(all_row "$work/$mode-idle.txt" | awk '{print $2}')")
  join_p999=$(ms "$(all_row "$work/$mode-join.txt" | awk '{print $2}')")
  DIR="$work/cluster" BASE=$BASE perf/cluster.sh stop >/dev/null
  rm -rf "$work/cluster"
}

MODES=${MODES:-throttled unthrottled}
first_rate=""
idle_a=- thr_b=- thr_t=- unthr_c=- unthr_t=- ratio=-
for m in $MODES; do
  case $m in
  throttled) run_mode throttled; idle_a=$idle_p999 thr_b=$join_p999 thr_t=$join_secs ;;
  unthrottled) run_mode unthrottled; unthr_c=$join_p999 unthr_t=$join_secs ;;
  *) echo "bench-join: MODES takes throttled and unthrottled, not '$m'" >&2; exit 2 ;;
  esac
done
[ "$thr_b" = - ] || ratio=$(awk -v a="$idle_a" -v b="$thr_b" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
# A mode not run reads "-".
echo "join: idle p99.9 $idle_a ms, throttled $thr_b ms (B/A = $ratio), unthrottled $unthr_c ms, join took ${thr_t}s throttled / ${unthr_t}s unthrottled"
