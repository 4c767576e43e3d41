#!/usr/bin/env bash
# One run, three setups, same workload, rounds interleaved:
#   single  - one dynamod, no replication
#   server  - a NODES-node cluster (default 3; N=3 R=2 W=2), connections
#             spread over the nodes, which forward writes to an owner
#             (server-driven)
#   client  - the same cluster, loadgen -ring-aware sends each key to its
#             owner (client-driven, protocol/ringclient)
# Prints each round's summary; quote medians. Everything on 127.0.0.1;
# processes are stopped by PID on exit.
#
# With 3 nodes and N=3 every node owns every key, so client-driven routing
# saves no hop; NODES=5 shows what it saves (issue 12, the paper's Table 2).
#
#   ROUNDS=3 DURATION=4s PIPELINE=16 perf/compare-cluster.sh
#   NODES=5 perf/compare-cluster.sh
#   NODES=5 RATE=4000 perf/compare-cluster.sh   # hops, not CPU queueing
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4s}
PIPELINE=${PIPELINE:-1}
CONNS=${CONNS:-48}
KEYS=${KEYS:-100000}
DURABILITY=${DURABILITY:-buffered}
NODES=${NODES:-3}
EXTRA=${EXTRA:-} # more dynamod flags for the cluster, e.g. -durable-replicas 1
RATE=${RATE:-}   # open loop at this many ops/s (latency without CPU saturation); empty: closed loop
OUT=${OUT:-perf/results}
make -s build
mkdir -p "$OUT"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  DIR="$work/cluster" BASE=21210 perf/cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "compare-cluster: nothing listens on $1" >&2; return 1
}

./bin/dynamod -listen 127.0.0.1:21299 -data "$work/single" -durability "$DURABILITY" 2>"$OUT/single.log" &
pids+=($!)
wait_port 21299
# shellcheck disable=SC2086 # EXTRA is a list of flags
DIR="$work/cluster" BASE=21210 perf/cluster.sh start "$NODES" -- -n 3 -r 2 -w 2 -durability "$DURABILITY" $EXTRA >/dev/null
DIR="$work/cluster" BASE=21210 perf/cluster.sh wait "$NODES"
nodes=$(seq -f "127.0.0.1:%g" 21211 $((21210 + NODES)) | paste -sd,)

common=(-conns "$CONNS" -mix get=10,set=1 -value-size 100 -keys "$KEYS" -duration "$DURATION" -warmup 1s -pipeline "$PIPELINE" -quiet -preload 0)
[ -n "$RATE" ] && common+=(-rate "$RATE")
./bin/loadgen -target 127.0.0.1:21299 -preload "$KEYS" -duration 1s -quiet "${common[@]:0:8}" >/dev/null
./bin/loadgen -target "$nodes" -preload "$KEYS" -duration 1s -quiet "${common[@]:0:8}" >/dev/null

run() { # name, loadgen targets args...
  local name=$1; shift
  ./bin/loadgen "$@" "${common[@]}" -json "$OUT/cluster-$name-r$r.json" | awk -v n="$name" -v r="$r" '/^all /{printf "round %s %-7s ops/s %10s  p50 %9s  p99 %9s  p99.9 %9s\n", r, n, $2, $4, $6, $7}'
}
echo "== single node vs $NODES-node cluster (N=3 R=2 W=2 $EXTRA), $CONNS conns, pipeline $PIPELINE${RATE:+, open loop at $RATE ops/s}, get:set 10:1, 100 B, $KEYS keys, durability $DURABILITY"
for r in $(seq 1 "$ROUNDS"); do
  run single -target 127.0.0.1:21299
  run server -target "$nodes"
  run client -target 127.0.0.1:21211 -ring-aware
done
