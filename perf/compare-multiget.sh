#!/usr/bin/env bash
# Multi-key get latency on a 3-node cluster (N=3 R=2 W=2), one client
# connection through node 1, for dynamod builds side by side (BINS, rounds
# alternated): a get of 100 keys and one of 10, each key present.
#
#   BINS="/tmp/dynamod.before bin/dynamod" ROUNDS=2 perf/compare-multiget.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
BINS=${BINS:-bin/dynamod}
BASE=${BASE:-21910}
make -s build
work=$(mktemp -d)
export DIR="$work/cluster" BASE
cleanup() { perf/cluster.sh stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
for r in $(seq 1 "$ROUNDS"); do
  for bin in $BINS; do
    rm -rf "$DIR"
    DYNAMOD=$bin perf/cluster.sh start 3 -- -n 3 -r 2 -w 2 >/dev/null
    perf/cluster.sh wait 3
    ./bin/loadgen -target "127.0.0.1:$((BASE + 1))" -keys 1000 -preload 1000 -duration 1s -quiet -mix get=1,set=1 >/dev/null
    many=$(python3 perf/multiget.py $((BASE + 1)) 100 200)
    few=$(python3 perf/multiget.py $((BASE + 1)) 10 500)
    echo "round $r $bin: $many  |  $few"
    perf/cluster.sh stop >/dev/null
  done
done
