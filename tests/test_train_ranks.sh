#!/usr/bin/env bash
# test_train_ranks.sh NP [tcp]: the same config at 1 and NP ranks trains the
# same model: weights after 24 steps agree within a relative 1e-5 (float
# summation order is the only difference), and so do the per-layer statistics
# (within 1e-4: they include activation sums reduced over ranks), and the
# histograms (at most 1e-3 of the counts in a neighbouring bin, every row's
# sum the same). Shuffling on, a global batch of 50
# that 3 and 4 do not divide, a final partial batch (N = 1100 = 22 x 50;
# 24 steps cross the epoch boundary). With "tcp", ranks talk over TCP on
# loopback as ranks on different nodes would. With "remedies", every remedy
# is on: batch norm (its statistics are the global batch's: the ranks reduce
# them in forward and backward) and layer norm, a residual block, dropout
# (masks keyed by step and data-set row, not by rank), gelu and selu, Adam
# with warm-up; the bias before a batch norm gets no gradient, so it is
# compared against its layer's weight norm (lib.sh: weights_equal).
. "$(dirname "$0")/lib.sh"
NP=$1 MODE=${2:-}
[ "$MODE" = tcp ] && export GS_MPI_FLAGS="--mca btl tcp,self --mca btl_tcp_if_include lo"
write_config "$WORK/t.ini" <<INI
[model]
layers = 10, 32, 32, 4
activation = tanh
init = xavier_normal
[data]
synthetic = teacher
n_train = 1100
n_test = 300
[train]
epochs = 5
max_steps = 24
batch_size = 50
seed = 3
eval_every = 1
log_every = 8
[optimizer]
lr = 0.05
momentum = 0.9
[checkpoint]
dir = $WORK/np1
INI
if [ "$MODE" = remedies ]; then
  sed -i 's/^layers = .*/layers = 10, 32, 32, 32, 4/; s/^activation = .*/activation = gelu, selu, tanh/; s/^momentum = .*//' "$WORK/t.ini"
  cat >> "$WORK/t.ini" <<INI
[model]
norm = batch, layer, batch
residual = 1
dropout = 0.1
INI
  sed -i 's/^\[optimizer\]$/[optimizer]\ntype = adam\nwarmup_steps = 5/; s/^lr = 0.05/lr = 0.005/' "$WORK/t.ini"
fi
GS_MPI_FLAGS= gs_mpi 1 train "$WORK/t.ini" > "$WORK/np1.log" 2>&1 || { cat "$WORK/np1.log"; fail "1 rank run failed"; finish; }
gs_mpi "$NP" train "$WORK/t.ini" --set "checkpoint.dir=$WORK/npN" > "$WORK/npN.log" 2>&1 \
  || { cat "$WORK/npN.log"; fail "$NP rank run failed"; finish; }
tail -3 "$WORK/npN.log"
grep -q "gradscope .*: $NP rank" "$WORK/npN.log" && pass "ran on $NP ranks" || fail "banner does not say $NP ranks"
if [ "$MODE" = remedies ]; then
  "$GS" inspect "$(latest_ckpt "$WORK/npN")" > "$WORK/inspect.txt"
  grep -q "residual blocks of 1; optimizer adam" "$WORK/inspect.txt" && grep -qE "^1 .* selu +layer" "$WORK/inspect.txt" \
    && pass "the remedies were on" || fail "the remedies were not on: $(head -12 "$WORK/inspect.txt")"
fi
weights_equal "$(latest_ckpt "$WORK/np1")" "$(latest_ckpt "$WORK/npN")" 1e-5 \
  && pass "1 and $NP ranks agree within 1e-5" || fail "1 and $NP ranks trained different models"
stats_close "$(latest_ckpt "$WORK/np1")" "$(latest_ckpt "$WORK/npN")" 1e-4 \
  && pass "per-layer statistics agree (activation sums reduced over ranks)" || fail "statistics depend on the rank count"
hist_close "$(latest_ckpt "$WORK/np1")" "$(latest_ckpt "$WORK/npN")" 1e-3 \
  && pass "gradient and pre-activation histograms agree within rounding" || fail "histograms depend on the rank count"
# evaluation does not depend on the rank count either
e1=$(grep '^eval' "$WORK/np1.log" | tail -1 | awk '{print $8}'); eN=$(grep '^eval' "$WORK/npN.log" | tail -1 | awk '{print $8}')
awk -v a="$e1" -v b="$eN" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-4 * (a < 0 ? -a : a) + 1e-6) }' \
  && pass "test loss $e1 vs $eN" || fail "test loss differs: $e1 (1 rank) vs $eN ($NP ranks)"
finish
