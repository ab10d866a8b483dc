#!/usr/bin/env bash
# No hang, ever: one rank that dies, one that reports an error, and one that
# stops answering each end the whole 2-rank job with a non-zero status within
# 10 s (the hang: within the watchdog limit + 10 s), with the message printed
# by the rank that saw the problem, and no process left behind.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/f.ini" <<INI
[model]
layers = 10, 16, 4
[data]
synthetic = teacher
n_train = 4000
n_test = 0
[train]
epochs = 100
batch_size = 20
log_every = 1000
watchdog_seconds = 3
[checkpoint]
dir =
INI
run_fault() { # KIND DEADLINE
  local start=$(date +%s%N)
  GRADSCOPE_TEST_FAULT="1:5:$1" gs_mpi 2 train "$WORK/f.ini" > "$WORK/$1.log" 2>&1; rc=$?
  el=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "fault $1: exit $rc after ${el} ms"; tail -4 "$WORK/$1.log"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$1: exit status $rc"
  [ "$el" -lt $(( $2 * 1000 )) ] || fail "$1: took ${el} ms (limit $2 s)"
  # (a rank may still be exiting as mpirun returns: left behind means still there after 2 s)
  for _ in $(seq 20); do pgrep -f "$WORK/f.ini" > /dev/null || break; sleep 0.1; done
  pgrep -f "$WORK/f.ini" > /dev/null && { fail "$1: processes left behind"; pkill -9 -f "$WORK/f.ini"; }
}
run_fault exit 10
grep -q "rank 1: test fault: exiting at step 5" "$WORK/exit.log" && pass "dying rank named" || fail "no message from the dying rank"
run_fault error 10
grep -q "rank 1: error: test fault injected at step 5" "$WORK/error.log" && pass "error reported by rank 1" || fail "error message missing"
[ "$(grep -c 'test fault injected' "$WORK/error.log")" -eq 1 ] && pass "error printed once" || fail "error printed more than once"
run_fault hang 15
grep -q "watchdog: step 5 has been in phase" "$WORK/hang.log" && pass "watchdog named the phase" || fail "watchdog message missing"
finish
