#!/usr/bin/env bash
# Side-by-side benchmark: this store against a real memcached, same client
# (bin/loadgen), same connections, same workload, servers alternated ABBA
# over ROUNDS rounds in one run; medians and ratios are printed.
#
#   perf/compare-memcached.sh                 # buffered, wal and sync; pipeline 1 and 16
#   MODES=buffered DEPTHS=16 ROUNDS=5 perf/compare-memcached.sh
#
# Needs Debian's memcached (apt-get install memcached). Everything listens
# on 127.0.0.1 and both servers are stopped (by PID) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

MODES=${MODES:-"buffered wal sync"}
DEPTHS=${DEPTHS:-"1 16"}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4s}
CONNS=${CONNS:-50}
KEYS=${KEYS:-100000}
THREADS=${THREADS:-2} # memcached -t, one per core of this machine
OUT=${OUT:-perf/results}

command -v memcached >/dev/null || { echo "compare-memcached: memcached is not installed (apt-get install memcached)" >&2; exit 2; }
make -s build
mkdir -p "$OUT"

SCRIPT=compare-memcached
source perf/ports.sh

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
mport=$(free_port)
memcached "${user[@]}" -U 0 -l 127.0.0.1 -p "$mport" -t "$THREADS" -m 1024 &
pids+=($!)
wait_port "$mport"

for mode in $MODES; do
  dport=$(free_port)
  data=$(mktemp -d)
  ./bin/dynamod -listen "127.0.0.1:$dport" -data "$data" -durability "$mode" 2>"$OUT/dynamod-$mode.log" &
  dpid=$!
  pids+=($dpid)
  wait_port "$dport"
  for depth in $DEPTHS; do
    echo "== durability=$mode pipeline=$depth (memcached -t $THREADS; $CONNS conns, get:set 10:1, 100 B values, $KEYS keys, $ROUNDS rounds)"
    ./bin/loadgen -compare "memcached=127.0.0.1:$mport,dynamo-$mode=127.0.0.1:$dport" -rounds "$ROUNDS" \
      -conns "$CONNS" -mix get=10,set=1 -value-size 100 -keys "$KEYS" -preload "$KEYS" \
      -duration "$DURATION" -warmup 1s -pipeline "$depth" -quiet -json "$OUT/compare-$mode-p$depth.json" 2>&1 | tail -n 4
  done
  kill "$dpid"; wait "$dpid" 2>/dev/null || true
  rm -rf "$data"
done
