#!/usr/bin/env bash
# Runs a test command several times in a row while two CPU-bound processes keep a 2-core machine
# busy, to find timing races before a loaded CI machine does.
#
#   bash scripts/test-under-load.sh [-n RUNS] [-j HOGS] [command ...]
#
# Defaults: 5 runs of `npm test` beside 2 `yes > /dev/null` processes. Prints one line per run and
# a final "N passed, M failed"; exits 1 if any run failed. The load processes are stopped by pid on
# every exit path (normal end, failure, Ctrl-C, SIGTERM).
set -uo pipefail

runs=5
hogs=2
usage() {
  echo "usage: $0 [-n RUNS] [-j LOAD_PROCESSES] [command ...]   (default: -n 5 -j 2 npm test)" >&2
  exit 2
}
while getopts ":n:j:h" opt; do
  case "$opt" in
    n) runs="$OPTARG" ;;
    j) hogs="$OPTARG" ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "$0: -n must be a positive integer, got '$runs'" >&2; exit 2; }
[[ "$hogs" =~ ^[0-9]+$ ]] || { echo "$0: -j must be a non-negative integer, got '$hogs'" >&2; exit 2; }
if [ $# -eq 0 ]; then set -- npm test; fi

pids=()
stop_load() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap stop_load EXIT
# On a signal, stop the load (EXIT runs the trap) and exit with the conventional 128+n status.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

for ((i = 0; i < hogs; i++)); do
  yes > /dev/null &
  pids+=("$!")
done
echo "load: ${hogs} x 'yes > /dev/null' (pids ${pids[*]:-none}); ${runs} runs of: $*"

logdir="$(mktemp -d "${TMPDIR:-/tmp}/test-under-load.XXXXXX")"
passed=0
failed=0
for ((run = 1; run <= runs; run++)); do
  log="${logdir}/run-${run}.log"
  start=$SECONDS
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    rm -f "$log"
    echo "run ${run}/${runs}: PASS in $((SECONDS - start)) s"
  else
    code=$?
    failed=$((failed + 1))
    echo "run ${run}/${runs}: FAIL (exit ${code}) in $((SECONDS - start)) s, log: ${log}"
  fi
done
echo "${passed} passed, ${failed} failed"
if [ "$failed" -eq 0 ]; then
  rmdir "$logdir" 2>/dev/null || true
  exit 0
fi
exit 1
