# Port helpers for the perf/ scripts; source it after setting SCRIPT (the
# name errors are reported under). Only 127.0.0.1 is used.

# free_port prints a port in 20000-20999 that nothing listens on.
free_port() {
  local p
  for p in $(seq 20000 20999 | shuf); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "$SCRIPT: no free port" >&2; exit 2
}

# wait_port waits up to 10 s for something to listen on port $1.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$SCRIPT: nothing listens on $1" >&2; return 1
}
