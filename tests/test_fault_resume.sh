#!/usr/bin/env bash
# Faults lose nothing:
#  1. SIGKILL of one rank of a 2-rank run at a random moment (checkpoints
#     every few steps): mpirun ends within 10 s, non-zero, nothing left
#     running; `--resume auto` continues from the last checkpoint and the
#     final weights equal, bitwise, those of an uninterrupted 2-rank run.
#  2. The run directory deleted mid-run: the next checkpoint fails with a
#     message naming the directory ("run directory D has disappeared", or,
#     when the delete lands inside a write, that write's error on D/...),
#     every rank exits non-zero, nothing left, the directory not recreated.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/f.ini" <<INI
[model]
layers = 32, 256, 256, 8
activation = tanh
init = xavier_normal
[data]
synthetic = teacher
n_train = 4000
n_test = 0
[train]
epochs = 100
max_steps = 2400
batch_size = 64
seed = 5
eval_every = 0
log_every = 1
[optimizer]
lr = 0.02
momentum = 0.9
[checkpoint]
dir = $WORK/straight
every_steps = 10
keep = 100
[stats]
every_steps = 7
INI
ranks_of() { pgrep -f "^$GS train $1"; } # the rank processes only (not timeout, not mpirun)

gs_mpi 2 train "$WORK/f.ini" > "$WORK/straight.log" 2>&1 || { tail "$WORK/straight.log"; fail "uninterrupted run"; finish; }

# 1. kill one rank at a random step: wait for a checkpoint, then 0-1 s more
gs_mpi 2 train "$WORK/f.ini" --set "checkpoint.dir=$WORK/split" > "$WORK/killed.log" 2>&1 &
job=$!
for _ in $(seq 200); do [ -e "$WORK/split/latest" ] && break; sleep 0.05; done
sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", r / 32768 * 0.6 }')"
victim=$(ranks_of "$WORK/f.ini" | shuf -n 1)
step=$(grep -o '^epoch [0-9]* step [0-9]*' "$WORK/killed.log" | tail -1)
if [ -z "$victim" ]; then
  fail "no rank to kill: the run ended early; $(tail -2 "$WORK/killed.log")"
else
  start=$(date +%s%N)
  kill -KILL "$victim"
  wait "$job"; rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "killed rank pid $victim near '$step'; mpirun exit $rc after $ms ms"
  # 137 here is mpirun passing on the rank's SIGKILL; 124 would be our timeout
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$ms" -lt 10000 ] \
    && pass "SIGKILL of one rank ends the job in $ms ms (exit $rc)" || fail "after SIGKILL: exit $rc after $ms ms"
fi
sleep 0.2
ranks_of "$WORK/f.ini" > /dev/null && { fail "processes left after the kill"; pkill -9 -f "^$GS train $WORK/f.ini"; }
last=$(cat "$WORK/split/latest" 2>/dev/null)
out=$(gs_mpi 2 train "$WORK/f.ini" --set "checkpoint.dir=$WORK/split" --resume auto 2>&1) \
  || { echo "$out" | tail -5; fail "resume after the kill"; finish; }
echo "$out" | grep -q "resume: .*$last: step" && pass "resumed from the last checkpoint $last" \
  || fail "did not resume from $last: $(echo "$out" | grep resume)"
weights_equal "$(latest_ckpt "$WORK/straight")" "$(latest_ckpt "$WORK/split")" 0 \
  && pass "final weights bitwise equal to the uninterrupted run" || fail "final weights differ"

# 2. the run directory deleted after its first checkpoint
gs_mpi 2 train "$WORK/f.ini" --set "checkpoint.dir=$WORK/gone" > "$WORK/gone.log" 2>&1 &
job=$!
for _ in $(seq 200); do [ -e "$WORK/gone/latest" ] && break; sleep 0.05; done
# renamed away, then deleted: atomic, so a write in progress cannot keep a
# half-deleted directory alive (rm -rf alone races with the writer)
mv "$WORK/gone" "$WORK/gone.deleted" && rm -rf "$WORK/gone.deleted"
start=$(date +%s%N)
wait "$job"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
# the message names the directory: "D has disappeared", or the failed
# write's "D/file: ...", or (the delete landing between the directory's
# check and the write) "checkpoint directory D: No such file or directory"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$ms" -lt 10000 ] && grep -qE "checkpoint: .*$WORK/gone( |/|:)" "$WORK/gone.log" \
  && pass "deleted run directory: exit $rc in $ms ms: $(grep -m1 "checkpoint: " "$WORK/gone.log")" \
  || fail "deleted run directory: exit $rc after $ms ms: $(grep -m3 "gradscope" "$WORK/gone.log"; tail -3 "$WORK/gone.log")"
[ -e "$WORK/gone" ] && fail "the deleted run directory was recreated"
ranks_of "$WORK/f.ini" > /dev/null && { fail "processes left after the deleted directory"; pkill -9 -f "^$GS train $WORK/f.ini"; }
finish
