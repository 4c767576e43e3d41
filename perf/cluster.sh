#!/usr/bin/env bash
# Starts or stops a local cluster of dynamod nodes on 127.0.0.1.
#
#   perf/cluster.sh start [NODES] [-- extra dynamod flags]   (default 3 nodes)
#   perf/cluster.sh stop
#   perf/cluster.sh status
#   perf/cluster.sh wait NODES   (until node NODES sees NODES members up; 20 s)
#
# Node i (1-based) listens for memcached clients on 127.0.0.1:$((BASE+i)),
# gossips on $((BASE+100+i)) and replicates on $((BASE+200+i)); BASE is
# 21210 unless set. Data, logs and PIDs live under $DIR (./cluster). With
# PPROF=1 node i also serves Go's profiles on 127.0.0.1:$((BASE+300+i)).
# DYNAMOD names another build of dynamod to run (default bin/dynamod).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DIR:-cluster}
BASE=${BASE:-21210}
cmd=${1:-}
shift || true

case "$cmd" in
start)
  nodes=3
  if [ $# -gt 0 ] && [ "$1" != "--" ]; then nodes=$1; shift; fi
  [ "${1:-}" = "--" ] && shift
  if [ -n "${DYNAMOD:-}" ]; then
    [ -x "$DYNAMOD" ] || { echo "cluster.sh: DYNAMOD=$DYNAMOD is not an executable" >&2; exit 2; }
  else
    DYNAMOD=bin/dynamod
    [ -x "$DYNAMOD" ] || make -s build
  fi
  mkdir -p "$DIR"
  for i in $(seq 1 "$nodes"); do
    d="$DIR/n$i"
    mkdir -p "$d"
    if [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null; then
      echo "n$i already running (pid $(cat "$d/pid"))"; continue
    fi
    join=()
    [ "$i" -gt 1 ] && join=(-join "127.0.0.1:$((BASE + 101))")
    # PPROF=1: each node serves Go's profiles on BASE+300+i.
    [ -n "${PPROF:-}" ] && join+=(-pprof "127.0.0.1:$((BASE + 300 + i))")
    "$DYNAMOD" -node-id "n$i" -data "$d/data" \
      -listen "127.0.0.1:$((BASE + i))" -gossip "127.0.0.1:$((BASE + 100 + i))" \
      -internode "127.0.0.1:$((BASE + 200 + i))" "${join[@]}" "$@" >>"$d/log" 2>&1 &
    echo $! >"$d/pid"
    # Wait for the client port before starting the next node, which joins through n1.
    for _ in $(seq 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$((BASE + i))") 2>/dev/null && break
      kill -0 "$(cat "$d/pid")" 2>/dev/null || { echo "n$i failed to start:"; tail -5 "$d/log"; exit 1; }
      sleep 0.1
    done
    echo "n$i: memcached 127.0.0.1:$((BASE + i)), pid $(cat "$d/pid"), log $d/log"
  done
  ;;
stop)
  for p in "$DIR"/n*/pid; do
    [ -f "$p" ] || continue
    pid=$(cat "$p")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      echo "stopped $(basename "$(dirname "$p")") (pid $pid)"
    fi
    rm -f "$p"
  done
  ;;
status)
  ./bin/dynctl -node "127.0.0.1:$((BASE + 1))" status
  ;;
wait)
  # Until the last node routes by a ring of all NODES members.
  nodes=${1:?usage: perf/cluster.sh wait NODES}
  for _ in $(seq 100); do
    up=$(./bin/dynctl -node "127.0.0.1:$((BASE + nodes))" status 2>/dev/null | grep -c ' up ' || true)
    [ "$up" = "$nodes" ] && exit 0
    sleep 0.2
  done
  echo "cluster.sh: node $nodes does not see $nodes members up after 20 s (it sees ${up:-none})" >&2
  exit 1
  ;;
*)
  echo "usage: perf/cluster.sh start [NODES] [-- dynamod flags] | stop | status | wait NODES" >&2
  exit 2
  ;;
esac
