#!/usr/bin/env bash
# Mutation testing of the simulator: does `make sim` find a bug when the
# code has one? For each mutant (engine/sim/mutants/NAME.patch, one small
# realistic bug each; see the README there) it makes a temporary detached
# worktree of HEAD, applies the patch, runs the simulator over seeds
# FIRST-SEEDS (1-200 by default), in order, with -failfast, and reports
# the first failing seed (the seeds it took to find the bug) and what the
# checker saw, or NOT FOUND. Each mutant's worktree is made from the
# commit HEAD was at when the script started.
#
#   perf/sim-mutants.sh                               # every mutant, seeds 1-200
#   MUTANTS="late-forward skip-hint" SEEDS=500 perf/sim-mutants.sh
#   MUTANTS=cond-local FIRST=201 SEEDS=500 perf/sim-mutants.sh   # go on where 1-200 stopped
#   LOGS=sim-mutants-out perf/sim-mutants.sh          # keep each run's go test output
#
# A patch that no longer applies to HEAD stops the run at once (exit 2):
# the patches must be kept in step with the code. Exits 1 if any mutant
# was not found. Runs one simulation at a time; worktrees are removed on
# exit.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

SEEDS=${SEEDS:-200}
FIRST=${FIRST:-1}
MUTANTS=${MUTANTS:-}
LOGS=${LOGS:-}
GO=${GO:-go}
DIR=engine/sim/mutants

case $SEEDS$FIRST in
  *[!0-9]* | '') echo "sim-mutants: SEEDS and FIRST must be numbers (seeds FIRST-SEEDS are run), not '$SEEDS', '$FIRST'" >&2; exit 2 ;;
esac
[ "$FIRST" -ge 1 ] && [ "$FIRST" -le "$SEEDS" ] || { echo "sim-mutants: FIRST=$FIRST is not in 1-$SEEDS" >&2; exit 2; }

if [ -n "$MUTANTS" ]; then
  names=$(echo "$MUTANTS" | tr ',' ' ')
else
  names=$(cd "$DIR" && ls -- *.patch | sed 's/\.patch$//')
fi
[ -n "$names" ] || { echo "sim-mutants: no mutants in $DIR" >&2; exit 2; }
for m in $names; do
  [ -f "$DIR/$m.patch" ] || { echo "sim-mutants: no such mutant: $DIR/$m.patch" >&2; exit 2; }
done

head=$(git rev-parse --short HEAD)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sim-mutants.XXXXXX")
cleanup() {
  local wt
  for wt in "$tmp"/wt-*; do
    [ -d "$wt" ] && git worktree remove --force "$wt" >/dev/null 2>&1 || true
  done
  git worktree prune
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -z "$LOGS" ] || mkdir -p "$LOGS"

# Every patch must apply before any time is spent simulating.
git worktree add --quiet --detach "$tmp/wt-check" "$head"
stale=""
for m in $names; do
  if ! git -C "$tmp/wt-check" apply --check "$PWD/$DIR/$m.patch" 2>"$tmp/apply.err"; then
    stale="$stale $m"
    sed "s/^/    /" "$tmp/apply.err" >&2
  fi
done
git worktree remove --force "$tmp/wt-check"
if [ -n "$stale" ]; then
  {
    echo "sim-mutants: ============================================================"
    echo "sim-mutants: PATCH NO LONGER APPLIES to HEAD ($head):$stale"
    echo "sim-mutants: the code moved; update these patches so each still makes its bug."
    echo "sim-mutants: ============================================================"
  } >&2
  exit 2
fi

# cpu sets CPU to the CPU seconds (user + sys) this shell's children have
# used so far. times must run in this shell, not in a $(...) subshell.
cpu() {
  times >"$tmp/times"
  CPU=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.0f", u[1]*60 + u[2] + s[1]*60 + s[2] }' "$tmp/times")
}

# verdict turns the simulator's summary line of a failing seed into what
# the checker saw.
verdict() {
  local line=$1 out=""
  case $line in
    *"setup failed:"*) echo "setup: ${line#*setup failed: }"; return ;;
  esac
  local re='\(([0-9]+) lost, ([0-9]+) resurrected\).* \(([0-9]+) lost, ([0-9]+) phantom\).* \(([0-9]+) lost\)'
  if [[ $line =~ $re ]]; then
    [ "${BASH_REMATCH[1]}" = 0 ] || out="$out, lost ${BASH_REMATCH[1]}"
    [ "${BASH_REMATCH[2]}" = 0 ] || out="$out, resurrected ${BASH_REMATCH[2]}"
    [ "${BASH_REMATCH[3]}" = 0 ] || out="$out, increments lost ${BASH_REMATCH[3]}"
    [ "${BASH_REMATCH[4]}" = 0 ] || out="$out, increments phantom ${BASH_REMATCH[4]}"
    [ "${BASH_REMATCH[5]}" = 0 ] || out="$out, elements lost ${BASH_REMATCH[5]}"
  fi
  re='; ([0-9]+) keys not converged'
  [[ $line =~ $re ]] && out="$out, not converged ${BASH_REMATCH[1]}"
  case $line in *"not healed:"*) out="$out, not healed: ${line#*not healed: }" ;; esac
  re='; ([0-9]+) probe failures: ([^;]*)'
  [[ $line =~ $re ]] && out="$out, ${BASH_REMATCH[1]} probe failures (${BASH_REMATCH[2]})"
  out=${out#, }
  echo "${out:-failed (phantom elements or other: see the log)}"
}

found=0
missed=0
rows=()
start_wall=$SECONDS
cpu
start_cpu=$CPU
for m in $names; do
  wt="$tmp/wt-$m"
  log="$tmp/$m.log"
  git worktree add --quiet --detach "$wt" "$head"
  if ! git -C "$wt" apply "$PWD/$DIR/$m.patch"; then
    echo "sim-mutants: PATCH NO LONGER APPLIES: $DIR/$m.patch (HEAD $head)" >&2
    exit 2
  fi
  echo "== $m: $(head -n1 "$DIR/$m.patch")"
  t0=$SECONDS
  cpu
  c0=$CPU
  # -trimpath: every worktree shares the build cache, so only the mutated
  # packages and their dependents are compiled again.
  (cd "$wt" && "$GO" test -trimpath -count=1 -timeout 120m -run '^TestSimulation$' ./engine/sim \
    -sim.seeds "$FIRST-$SEEDS" -sim.sequential -failfast -v) >"$log" 2>&1 || true
  wall=$((SECONDS - t0))
  cpu
  used=$((CPU - c0))
  [ -z "$LOGS" ] || cp "$log" "$LOGS/$m.log"
  passed=$(grep -cE -- '^\s*--- PASS: TestSimulation/seeds/seed=' "$log" || true)
  # Seeds run in order (-sim.sequential) and -failfast ends the run at
  # the first that fails: the number of seeds it took.
  seed=$(grep -oE 'seed [0-9]+ failed; replay' "$log" | grep -oE '[0-9]+' | sort -n | head -n1 || true)
  if grep -qE '^panic:|^fatal error:' "$log"; then
    saw="panic: $(grep -m1 -E '^panic:|^fatal error:' "$log" | cut -c1-120)"
    [ -n "$seed" ] || seed="?"
  elif [ -n "$seed" ]; then
    summary=$(grep -m1 -E "sim_test\.go:[0-9]+: seed $seed: ([0-9]+ acknowledged writes|setup failed)" "$log" | sed -E 's/^[ \t]*sim_test\.go:[0-9]+: seed [0-9]+: //')
    saw=$(verdict "$summary")
  elif ! grep -qE '^(ok|PASS)\b|^--- PASS: TestSimulation ' "$log"; then
    echo "sim-mutants: $m: the simulator did not run (build failure?):" >&2
    tail -n 20 "$log" >&2
    exit 2
  fi
  if [ -n "$seed" ]; then
    found=$((found + 1))
    result="found at seed $seed"
  else
    missed=$((missed + 1))
    result="NOT FOUND in $((SEEDS - FIRST + 1)) seeds"
    saw="$passed seeds passed"
  fi
  echo "   $result: $saw (${wall}s wall, ${used}s CPU)"
  rows+=("$m|$result|$saw|${wall}s|${used}s")
  git worktree remove --force "$wt"
done

echo
echo "Mutants measured at $head, seeds $FIRST-$SEEDS, -failfast:"
printf '%-24s %-26s %7s %7s  %s\n' mutant result wall cpu "checker"
for r in "${rows[@]}"; do
  IFS='|' read -r m result saw wall used <<<"$r"
  printf '%-24s %-26s %7s %7s  %s\n' "$m" "$result" "$wall" "$used" "$saw"
done
cpu
echo "total: $((SECONDS - start_wall))s wall, $((CPU - start_cpu))s CPU"
echo "mutants: $found found, $missed not found"
[ "$missed" = 0 ]
