#!/usr/bin/env bash
# [train] reproducible = true: the same bits at any rank count (docs/distributed.md).
#
#   test_reproducible.sh ranks [remedies]
#       The main job's network (784-512-256-10, relu, He; synthetic teacher
#       data instead of Fashion-MNIST) for 20 steps, across an epoch's short
#       last batch (984 rows: 24 in the last, 3 groups of 8, so one of 4
#       ranks computes none), at 1, 2, 3 and 4 ranks: every
#       dataset of the final checkpoint bitwise equal (but /state/n_ranks,
#       the run's own record); at 2-4 ranks the ranks' accumulators are
#       summed in shared memory, and once more at 3 ranks as MPI messages. With `remedies`: batch and layer norm,
#       dropout, a residual block, gelu/selu/sigmoid, AdamW with warm-up.
#   test_reproducible.sh default
#       The control: the same run with reproducible = false at 1 and 2
#       ranks ends on different weights, so the mode is what does the work.
#   test_reproducible.sh resume
#       A 4-rank run killed at step 13 (checkpoints every 5 steps), resumed
#       with --resume auto on 1 rank and killed again at step 17, resumed on
#       3: the final checkpoint equals, bit for bit, that of the
#       uninterrupted 4-rank run.
#
# Why bitwise equality may be asserted: every run is this build on this
# machine's OpenBLAS kernel with one BLAS thread per rank, the mode's own
# conditions; the test holds on any kernel, as the runs compared share it.
. "$(dirname "$0")/lib.sh"
MODE=${1:-ranks} EXTRA=${2:-}
write_config "$WORK/r.ini" <<INI
[model]
layers = 784, 512, 256, 10
activation = relu
init = he_normal
output = softmax
[data]
synthetic = teacher
n_train = 984
n_test = 300
[train]
epochs = 2
max_steps = 20
batch_size = 64
seed = 42
eval_every = 1
log_every = 5
reproducible = true
[optimizer]
lr = 0.05
momentum = 0.9
nesterov = true
weight_decay = 0.0001
schedule = cosine
[checkpoint]
dir = $WORK/run
every_steps = 5
every_epochs = 0   ; the kill-and-resume steps below count on checkpoints at multiples of 5 alone
keep = 10
[stats]
every_steps = 3
INI
if [ "$EXTRA" = remedies ]; then
  "$PY" - "$WORK/r.ini" <<'PYEOF'
import sys, configparser
cp = configparser.ConfigParser()
cp.read(sys.argv[1])
cp["model"].update({"layers": "784, 128, 128, 128, 10", "activation": "sigmoid, gelu, selu",
                    "norm": "batch, layer, batch", "residual": "1", "dropout": "0.1, 0, 0.2", "init": "xavier_normal"})
for k in ("momentum", "nesterov"):
    del cp["optimizer"][k]
cp["optimizer"].update({"type": "adamw", "lr": "0.002", "warmup_steps": "5"})
with open(sys.argv[1], "w") as f:
    cp.write(f)
PYEOF
fi
SAME="$PY $GRADSCOPE_SRC/tests/ckpt_same.py"

# run NP NAME [ARGS]: train into $WORK/run, then keep it as $WORK/NAME (the
# same checkpoint.dir in every run, so that even /config is the same text)
run() {
  local np=$1 name=$2
  shift 2
  rm -rf "$WORK/run"
  gs_mpi "$np" train "$WORK/r.ini" "$@" > "$WORK/$name.log" 2>&1 || { tail -5 "$WORK/$name.log"; return 1; }
  mv "$WORK/run" "$WORK/$name"
}
final() { echo "$WORK/$1/$(cat "$WORK/$1/latest")"; }

case $MODE in
  ranks)
    run 1 np1 || { fail "1 rank"; finish; }
    grep -q "gradients: reproducible" "$WORK/np1.log" && pass "the banner names the exact exchange" \
      || fail "no 'gradients: reproducible' line in the banner"
    for np in 2 3 4; do
      run "$np" "np$np" || { fail "$np ranks"; continue; }
      out=$($SAME "$(final np1)" "$(final "np$np")" --ignore /state/n_ranks) \
        && pass "$np ranks: $out, as 1 rank" || fail "$np ranks vs 1: $out"
    done
    grep -q "through shared memory" "$WORK/np2.log" || fail "2 ranks on one node did not sum through shared memory"
    # the accumulators all-reduced as messages (as across nodes) rather than summed in shared memory
    GRADSCOPE_SHARED_MEMORY=0 run 3 msg || fail "3 ranks, messages"
    grep -q "all-reduced; no shared memory" "$WORK/msg.log" || fail "GRADSCOPE_SHARED_MEMORY=0 did not use messages"
    out=$($SAME "$(final np1)" "$(final msg)" --ignore /state/n_ranks) \
      && pass "3 ranks, accumulators all-reduced as messages: $out, as 1 rank" || fail "3 ranks, messages, vs 1: $out"
    ;;
  default)
    for np in 1 2; do run "$np" "np$np" --set train.reproducible=false || fail "$np ranks"; done
    out=$($SAME "$(final np1)" "$(final np2)" --ignore /state/n_ranks --expect-differ) \
      && pass "reproducible = false: 1 and 2 ranks train different weights ($out)" \
      || fail "reproducible = false gave the same weights at 1 and 2 ranks: the test cannot tell the mode works ($out)"
    ;;
  resume)
    run 4 straight || { fail "uninterrupted 4-rank run"; finish; }
    rm -rf "$WORK/run"
    GRADSCOPE_TEST_FAULT=2:13:exit gs_mpi 4 train "$WORK/r.ini" > "$WORK/killed.log" 2>&1 \
      && fail "the run with a rank killed at step 13 exited 0"
    [ "$(cat "$WORK/run/latest" 2>/dev/null)" = ckpt_00000010.h5 ] && pass "killed at step 13, last checkpoint at step 10" \
      || fail "latest checkpoint after the kill: '$(cat "$WORK/run/latest" 2>/dev/null)', expected ckpt_00000010.h5"
    GRADSCOPE_TEST_FAULT=0:17:exit gs_mpi 1 train "$WORK/r.ini" --resume auto > "$WORK/one.log" 2>&1 \
      && fail "the 1-rank run killed at step 17 exited 0"
    grep -q "resume: .*ckpt_00000010.h5" "$WORK/one.log" || fail "the 1-rank run did not resume from step 10"
    gs_mpi 3 train "$WORK/r.ini" --resume auto > "$WORK/three.log" 2>&1 \
      || { tail -5 "$WORK/three.log"; fail "resume on 3 ranks"; }
    grep -q "resume: .*ckpt_00000015.h5" "$WORK/three.log" && pass "4 ranks to step 13, 1 rank from step 10 to 17, 3 ranks from step 15" \
      || fail "the 3-rank run did not resume from step 15"
    out=$($SAME "$(final straight)" "$WORK/run/$(cat "$WORK/run/latest")" --ignore /state/n_ranks) \
      && pass "killed on 4 ranks, resumed on 1 and 3: $out, as the uninterrupted 4-rank run" \
      || fail "resumed run vs uninterrupted: $out"
    ;;
  *) fail "usage: $0 ranks [remedies] | default | resume" ;;
esac
finish
