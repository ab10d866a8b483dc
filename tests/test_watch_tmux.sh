#!/usr/bin/env bash
# test_watch_tmux.sh: gradscope watch in a terminal, driven through tmux
# (send-keys, capture-pane) on real runs at 2 ranks:
#  - a run stopped for a requeue: the view says so, shows every layer's
#    row with its verdict in colour, and keeps following;
#  - the requeued job: the view moves on while it trains, and when its
#    end record comes the watch exits 0, leaving the final view on screen;
#  - a killed run: after --stale seconds the view says it may have been
#    killed; `q` quits, and so does Ctrl-C, each with exit 0;
#  - a window too short for the table: the rows that fit, and how many
#    more there are.
. "$(dirname "$0")/lib.sh"
cd "$WORK"
command -v tmux > /dev/null || { echo "SKIP: tmux is not installed (jobs/deps.sh installs it)"; exit 77; }
TM=(tmux -L "gradscope-watch-$$" -f /dev/null)
trap '"${TM[@]}" kill-server 2> /dev/null; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

# session NAME WIDTH HEIGHT ARGS...: gradscope watch ARGS in a new tmux window, its exit status said after it
session() {
  local name=$1 w=$2 h=$3; shift 3
  "${TM[@]}" new-session -d -s "$name" -x "$w" -y "$h" \
    "LANG=C.UTF-8 TERM=screen-256color $GS watch $* --interval 0.2; echo watch exit \$?; stty -a | tr ' ;' '\n\n' | grep -xE -- '-?(icanon|echo)' | tr '\n' ' '; echo; sleep 600"
}
pane() { "${TM[@]}" capture-pane -p -t "$1" "${@:2}"; }
# wait_for NAME PATTERN [SECONDS]: until the pane shows PATTERN
wait_for() {
  local deadline=$(( $(date +%s) + ${3:-30} ))
  while [ "$(date +%s)" -le $deadline ]; do
    pane "$1" | grep -q -- "$2" && return 0
    sleep 0.2
  done
  return 1
}

write_config k.ini <<INI
[model]
layers = 2, 256, 256, 256, 3
[data]
n_train = 8000
n_test = 500
[train]
epochs = 10
batch_size = 100
log_every = 10
[checkpoint]
dir = runs/k
INI

# 1. a run stopped for a requeue
GRADSCOPE_TEST_FAULT=0:100:signal gs_mpi 2 train k.ini > k1.log 2>&1
session w 110 36 runs/k
if wait_for w "stopped at step 101 for a requeue (exit 75)"; then
  pass "the view: stopped for a requeue, following on"
else
  fail "no stopped status: $(pane w)"
fi
view=$(pane w)
rows=$(echo "$view" | grep -cE "^[0-3] +(2|256)x(256|3) +(relu|identity) +[0-9.e+-]+ +[0-9.e+-]+ +[0-9.]+ +[0-9.]+  healthy")
[ "$rows" -eq 4 ] && echo "$view" | grep -q "^step  100/800 (12 %)   epoch 2/10" \
  && echo "$view" | grep -q "^loss  [0-9.]* *[▁▂▃▄▅▆▇█]\+" \
  && pass "step, loss sparkline and a row for each of the 4 layers" || fail "the view:
$view"
pane w -e | grep -qE $'\e\\[[0-9;]*32m *healthy' && pass "verdicts in colour (healthy: green)" \
  || fail "no green verdict: $(pane w -e | grep healthy | head -2 | cat -v)"

# 2. the requeued job: followed while it trains, and to its end
gs_mpi 2 train k.ini --resume auto > k2.log 2>&1 &
run=$!
step=100 # the step shown while the job trains, once past where it resumed
for _ in $(seq 300); do
  view=$(pane w)
  echo "$view" | grep -q "^status  running: last record" && step=$(echo "$view" | sed -n 's|^step  \([0-9]*\)/800.*|\1|p')
  [ "$step" -gt 100 ] || echo "$view" | grep -q "^status  finished" && break
  sleep 0.2
done
[ "$step" -gt 100 ] && [ "$step" -lt 800 ] \
  && pass "the view moves on while the requeued job trains (step $step of 800)" || fail "step '$step' while running"
wait $run || fail "the requeued run: $(tail -3 k2.log)"
if wait_for w "watch exit 0" 30; then
  pane w | grep -q "^status  finished at step 800 (exit 0)" && pane w | grep -q "^step  800/800 (100 %)" \
    && pass "the end record ends the watch: exit 0, the final view left on the screen" || fail "after the end: $(pane w)"
else
  fail "the watch did not exit at the run's end: $(pane w)"
fi

# 3. a killed run: said after --stale; q and Ctrl-C quit
GRADSCOPE_TEST_FAULT=0:50:exit gs_mpi 2 train k.ini --overwrite > k3.log 2>&1
session q 110 36 runs/k --stale 2
wait_for q "the job may have been killed" 15 && pass "a killed run: the view says it may have been killed" \
  || fail "no stale status: $(pane q)"
"${TM[@]}" send-keys -t q q
wait_for q "watch exit 0" 5 && pass "q quits, exit 0" || fail "q did not quit: $(pane q)"
wait_for q "^icanon echo" 5 && pass "the terminal is sane again (icanon, echo)" || fail "the terminal after q: $(pane q | tail -3)"
session c 110 36 runs/k
wait_for c "^step  50/800" 10 || fail "the view: $(pane c)"
"${TM[@]}" send-keys -t c C-c
wait_for c "watch exit 0" 5 && pass "Ctrl-C quits, exit 0" || fail "Ctrl-C did not quit: $(pane c)"

# 4. a short window
session s 100 16 runs/k
wait_for s "3 more layers" 10 && pane s | grep -q "^0  " && pane s | grep -q "^q quits" \
  && pass "a short window: $(pane s | grep 'more layer')" || fail "short window: $(pane s)"
"${TM[@]}" send-keys -t s q
finish
