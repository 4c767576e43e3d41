#!/usr/bin/env bash
# Side-by-side benchmark: what TLS on the client port costs. One dynamod
# speaking plain TCP and one speaking TLS (-tls-cert/-tls-key), and, as the
# reference, memcached without and with -Z, driven by the same client
# (bin/loadgen, one goroutine per connection for every target so the client
# side is the same), the same connections and workload, targets alternated
# ABBA over ROUNDS rounds in one run; medians and ratios are printed.
#
#   perf/compare-tls.sh                       # pipeline 1 and 16
#   DEPTHS=16 ROUNDS=5 perf/compare-tls.sh
#
# Needs openssl (certificates) and, for the reference, Debian's memcached
# (built with TLS). Everything listens on 127.0.0.1; every server is
# stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DEPTHS=${DEPTHS:-"1 16"}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4s}
CONNS=${CONNS:-50}
KEYS=${KEYS:-100000}
THREADS=${THREADS:-2} # memcached -t, one per core of this machine
OUT=${OUT:-perf/results}

command -v openssl >/dev/null || { echo "compare-tls: openssl is not installed (apt-get install openssl)" >&2; exit 2; }
make -s build
mkdir -p "$OUT"

SCRIPT=compare-tls
source perf/ports.sh

pids=()
tmp=$(mktemp -d)
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

# A throwaway CA and a certificate for 127.0.0.1 it signs.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$tmp/ca-key.pem" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$tmp/key.pem" -out "$tmp/req.pem" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$tmp/ext.cnf"
openssl x509 -req -in "$tmp/req.pem" -CA "$tmp/ca.pem" -CAkey "$tmp/ca-key.pem" -CAcreateserial -days 1 \
  -extfile "$tmp/ext.cnf" -out "$tmp/cert.pem" 2>/dev/null

targets=()
start_dynamod() { # port, name, extra flags...
  local port=$1 name=$2; shift 2
  mkdir -p "$tmp/$name"
  ./bin/dynamod -listen "127.0.0.1:$port" -data "$tmp/$name" "$@" 2>"$OUT/dynamod-$name.log" &
  pids+=($!)
  wait_port "$port"
}
plain=$(free_port)
start_dynamod "$plain" plain
tls=$(free_port)
start_dynamod "$tls" tls -tls-cert "$tmp/cert.pem" -tls-key "$tmp/key.pem"
targets+=("dynamo=127.0.0.1:$plain" "dynamo-tls=tls://127.0.0.1:$tls")

if command -v memcached >/dev/null && memcached -h 2>&1 | grep -q -- --enable-ssl; then
  user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
  chmod 644 "$tmp"/*.pem; chmod 755 "$tmp"
  mport=$(free_port)
  memcached "${user[@]}" -U 0 -l 127.0.0.1 -p "$mport" -t "$THREADS" -m 1024 2>"$OUT/memcached.log" &
  pids+=($!)
  mtport=$(free_port)
  memcached "${user[@]}" -U 0 -l 127.0.0.1 -p "$mtport" -t "$THREADS" -m 1024 -Z \
    -o "ssl_chain_cert=$tmp/cert.pem,ssl_key=$tmp/key.pem" 2>"$OUT/memcached-tls.log" &
  pids+=($!)
  wait_port "$mport"; wait_port "$mtport"
  targets+=("memcached=127.0.0.1:$mport" "memcached-tls=tls://127.0.0.1:$mtport")
else
  echo "compare-tls: no memcached with TLS; comparing dynamod alone" >&2
fi

list=$(IFS=,; echo "${targets[*]}")
for depth in $DEPTHS; do
  echo "== pipeline=$depth ($CONNS conns, get:set 10:1, 100 B values, $KEYS keys, $ROUNDS rounds, loadgen -io goroutines)"
  ./bin/loadgen -compare "$list" -tls-ca "$tmp/ca.pem" -io goroutines -rounds "$ROUNDS" \
    -conns "$CONNS" -mix get=10,set=1 -value-size 100 -keys "$KEYS" -preload "$KEYS" \
    -duration "$DURATION" -warmup 1s -pipeline "$depth" -quiet -json "$OUT/compare-tls-p$depth.json" 2>&1 | tail -n 8
done
