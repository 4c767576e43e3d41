#!/usr/bin/env bash
# Does loadgen measure truly? Drives one stock memcached with memcaslap (a
# public tool from Debian's libmemcached-tools) and with bin/loadgen at the
# same settings, alternated ABBA over ROUNDS rounds in one run, and prints
# for each tool: the ops/s it reported, the ops/s memcached itself counted
# (cmd_get + cmd_set) over the same steady window, and the tool's own CPU
# time in that window.
#
#   perf/compare-memcaslap.sh
#   ROUNDS=9 DURATION=5 PIN=0 IO=goroutines perf/compare-memcaslap.sh
#
# Settings (memcaslap's defaults where the issue is silent): memcached -t
# THREADS; CONNS connections over THREADS client threads (memcaslap -T/-c,
# loadgen -workers/-conns); one request outstanding per connection; 9 % sets
# and 91 % gets of 100-byte values on 16-byte keys; every get hits (loadgen
# preloads its key space, memcaslap gets only keys it has set). With PIN=1
# (the default on two or more CPUs) memcached runs on CPU 0 and the client
# on CPU 1, so neither tool's figure depends on how the scheduler happens
# to share the cores. Everything listens on 127.0.0.1; memcached is stopped
# (by PID) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}   # seconds per run
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
KEYS=${KEYS:-100000}
IO=${IO:-auto}            # loadgen -io: auto, epoll or goroutines
PIN=${PIN:-$([ "$(nproc)" -ge 2 ] && echo 1 || echo 0)}
OUT=${OUT:-perf/results}

for tool in memcached memcaslap; do
  command -v "$tool" >/dev/null || { echo "compare-memcaslap: $tool is not installed (apt-get install memcached libmemcached-tools)" >&2; exit 2; }
done
make -s build
mkdir -p "$OUT"

server_cpu=(); client_cpu=()
if [ "$PIN" = 1 ]; then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi

SCRIPT=compare-memcaslap
source perf/ports.sh

# served_ops prints memcached's cmd_get + cmd_set.
served_ops() {
  local line get=0 set=0
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'stats\r\n' >&3
  while IFS= read -r -t 5 line <&3; do
    line=${line%$'\r'}
    case $line in
      "STAT cmd_get "*) get=${line##* } ;;
      "STAT cmd_set "*) set=${line##* } ;;
      END) break ;;
    esac
  done
  exec 3>&-
  echo $((get + set))
}

pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
port=$(free_port)
"${server_cpu[@]}" memcached "${user[@]}" -U 0 -l 127.0.0.1 -p "$port" -t "$THREADS" -m 1024 &
pid=$!
wait_port "$port"

cfg="$OUT/memcaslap.cfg"
printf 'key\n16 16 1\nvalue\n100 100 1\ncmd\n0 0.09\n1 0.91\n' >"$cfg"
prefix="loadgen:key:" # 12 bytes + a 4- or 5-digit index: 16-byte keys, as memcaslap's
./bin/loadgen -target "127.0.0.1:$port" -key-prefix "$prefix" -keys "$KEYS" -preload "$KEYS" \
  -value-size 100 -ops 100 -conns 4 -quiet >/dev/null

# cpu_ticks PID prints the process's user and system CPU in clock ticks.
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

results="$OUT/compare-memcaslap.tsv"
printf 'round\ttool\treported_ops_s\tserved_ops_s\tcpu_user_s\tcpu_sys_s\n' >"$results"

# run TOOL ROUND: one run, appended to $results. The tool runs DURATION+3
# seconds; the server's op count and the tool's CPU are sampled over the
# DURATION seconds after the first two, when both tools are past their
# set-up (memcaslap spends about a second building its key window before
# it sends anything). So "served" is the same observer counting for both.
run() {
  local tool=$1 round=$2 log="$OUT/compare-memcaslap-$1.log" tpid s0 s1 t0 t1 c0 c1 reported
  case $tool in
    memcaslap)
      "${client_cpu[@]}" memcaslap -s "127.0.0.1:$port" -T "$THREADS" -c "$CONNS" \
        -t "$((DURATION + 3))s" -F "$cfg" >"$log" 2>&1 &
      tpid=$! ;;
    loadgen)
      "${client_cpu[@]}" ./bin/loadgen -io "$IO" -target "127.0.0.1:$port" -conns "$CONNS" \
        -workers "$THREADS" -duration "$((DURATION + 3))s" -mix get=91,set=9 -value-size 100 \
        -keys "$KEYS" -key-prefix "$prefix" -quiet -preload 0 >"$log" 2>&1 &
      tpid=$! ;;
  esac
  sleep 2
  read -r c0u c0s < <(cpu_ticks "$tpid"); s0=$(served_ops); t0=$(date +%s.%N)
  sleep "$DURATION"
  read -r c1u c1s < <(cpu_ticks "$tpid"); s1=$(served_ops); t1=$(date +%s.%N)
  wait "$tpid" || { echo "compare-memcaslap: $tool failed; its output:" >&2; cat "$log" >&2; exit 1; }
  case $tool in
    memcaslap) reported=$(sed -n 's/.*TPS: \([0-9]*\).*/\1/p' "$log" | tail -1) ;;
    loadgen) reported=$(awk '/^throughput/ {printf "%d", $2}' "$log") ;;
  esac
  [ -n "$reported" ] || { echo "compare-memcaslap: $tool reported no throughput; its output:" >&2; cat "$log" >&2; exit 1; }
  awk -v r="$round" -v t="$tool" -v rep="$reported" -v n=$((s1 - s0)) -v a="$t0" -v b="$t1" \
    -v u=$((c1u - c0u)) -v s=$((c1s - c0s)) -v hz="$hz" \
    'BEGIN {printf "%s\t%s\t%s\t%d\t%.2f\t%.2f\n", r, t, rep, n / (b - a), u / hz / (b - a), s / hz / (b - a)}' >>"$results"
}

echo "memcached -t $THREADS on 127.0.0.1:$port; $CONNS connections, $THREADS client threads, ${DURATION}s runs, pinned=$PIN, loadgen -io $IO"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="memcaslap loadgen"; else order="loadgen memcaslap"; fi
  for tool in $order; do run "$tool" "$r"; done
  tail -n 2 "$results" | sort -k2 | awk -F'\t' '{printf "round %s  %-9s %8d ops/s reported  %8d served  cpu %.2f user + %.2f sys (cores)\n", $1, $2, $3, $4, $5, $6}'
done

awk -F'\t' '
  NR > 1 { n[$2]++; rep[$2, n[$2]] = $3; srv[$2, n[$2]] = $4; eff[$2, n[$2]] = $4 / ($5 + $6) }
  function median(a, t, k,   i, j, v, m) {
    m = n[t]; for (i = 1; i <= m; i++) v[i] = a[t, i]
    for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { k = v[j]; v[j] = v[j-1]; v[j-1] = k }
    return m % 2 ? v[(m+1)/2] : (v[m/2] + v[m/2+1]) / 2
  }
  END {
    printf "\nmedians over %d rounds:\n", n["loadgen"]
    printf "%-10s %14s %14s %22s\n", "tool", "reported ops/s", "served ops/s", "served per CPU-second"
    for (t in n) printf "%-10s %14d %14d %22d\n", t, median(rep, t), median(srv, t), median(eff, t)
    printf "\nloadgen / memcaslap: reported %.2f, served %.2f, ops per CPU-second %.2f\n",
      median(rep, "loadgen") / median(rep, "memcaslap"), median(srv, "loadgen") / median(srv, "memcaslap"),
      median(eff, "loadgen") / median(eff, "memcaslap")
  }' "$results"
echo "raw figures: $results"
