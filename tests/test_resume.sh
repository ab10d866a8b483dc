#!/usr/bin/env bash
# test_resume.sh NP1 NP2: N steps straight vs N/2 on NP1 ranks, stop, resume
# on NP2 ranks for the rest. Same rank count: weights, momentum, loss history
# and statistics bitwise equal. Different rank count: every array within 1e-5
# normwise (||a - b|| / ||b||); grad_mean, a near-cancelling sum, within
# 1e-5 of the gradient's standard deviation; the histograms with the same
# row sums and at most 1e-3 of their counts in another bin.
# Also: --resume auto with no checkpoint starts fresh, and the resumed run's
# history has no gap and no repeated step.
# Why bitwise equality holds on any OpenBLAS kernel: both runs are this build
# on this machine's kernel with the same BLAS threads (cores / ranks, the
# same for the same rank count), so every GEMM has the same shapes and
# splits, and the checkpoint holds the whole state. It would not hold across
# kernels or thread counts (gradscope warns when a resume changes them).
# test_resume.sh NP1 NP2 remedies: the same with every remedy on (batch and
# layer norm with their running statistics, a residual block, dropout keyed
# by step and row, gelu, Adam's two moments and step count, warm-up).
. "$(dirname "$0")/lib.sh"
NP1=$1 NP2=$2 MODE=${3:-}
write_config "$WORK/r.ini" <<INI
[model]
layers = 8, 24, 24, 3
activation = tanh
init = xavier_normal
[data]
synthetic = teacher
n_train = 600
n_test = 200
[train]
epochs = 10
max_steps = 40
batch_size = 32
seed = 11
eval_every = 0
log_every = 10
[optimizer]
lr = 0.05
momentum = 0.9
[checkpoint]
dir = $WORK/straight
every_steps = 10
keep = 10
[stats]
every_steps = 3
INI
if [ "$MODE" = remedies ]; then
  "$PY" - "$WORK/r.ini" <<'PYEOF'
import sys, configparser
cp = configparser.ConfigParser()
cp.read(sys.argv[1])
cp["model"].update({"activation": "gelu", "norm": "batch, layer", "residual": "1", "dropout": "0.1"})
del cp["optimizer"]["momentum"]
cp["optimizer"].update({"type": "adam", "lr": "0.005", "warmup_steps": "5", "weight_decay": "0.01"})
with open(sys.argv[1], "w") as f:
    cp.write(f)
PYEOF
fi
gs_mpi "$NP1" train "$WORK/r.ini" > "$WORK/straight.log" 2>&1 || { cat "$WORK/straight.log"; fail "straight run"; finish; }
out=$(gs_mpi "$NP1" train "$WORK/r.ini" --set "checkpoint.dir=$WORK/split" --set train.max_steps=20 --resume auto 2>&1) \
  || { echo "$out"; fail "first half"; finish; }
echo "$out" | grep -q "no checkpoint in .*, starting fresh" && pass "--resume auto with nothing to resume starts fresh" \
  || fail "--resume auto did not say it starts fresh"
out=$(gs_mpi "$NP2" train "$WORK/r.ini" --set "checkpoint.dir=$WORK/split" --resume auto 2>&1) || { echo "$out"; fail "second half"; finish; }
echo "$out" | grep -q "resume: .*ckpt_00000020.h5: step 20 " && pass "resumed from step 20" || { echo "$out" | head; fail "did not resume from step 20"; }
# and trained from there: progress at steps 30 and 40 only (log_every = 10). A run that said it
# resumed but trained from step 0 with the same seed would end on the same weights
steps=$(echo "$out" | sed -n 's|^epoch [0-9]* step \([0-9]*\)/40 .*|\1|p' | tr '\n' ' ')
[ "$steps" = "30 40 " ] && pass "the resumed run trained steps 21-40 (progress at: $steps)" \
  || fail "the resumed run's progress lines are at steps '$steps', expected '30 40 '"

"$PY" - "$(latest_ckpt "$WORK/straight")" "$(latest_ckpt "$WORK/split")" "$NP1" "$NP2" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
exact = sys.argv[3] == sys.argv[4]
bad = 0
def cmp(path):
    global bad
    x, y = a[path][()], b[path][()]
    if x.shape != y.shape:
        print(f"{path}: shape {x.shape} vs {y.shape}"); bad += 1; return
    if exact:
        same = np.array_equal(x, y) if x.dtype.kind not in "f" else np.array_equal(x.view(np.uint8), y.view(np.uint8))
        if not same:
            print(f"{path}: not bitwise equal"); bad += 1
    elif path.endswith("_hist"):  # counts: rounding moves a few to a neighbouring bin
        moved = np.abs(x - y).sum() / 2 / max(x.sum(), 1)
        if not np.array_equal(x.sum(axis=2), y.sum(axis=2)) or moved > 1e-3:
            print(f"{path}: row sums differ or {moved:.3g} of the counts moved"); bad += 1
    elif x.dtype.kind == "f" and x.size:
        x, y = x.astype(np.float64), y.astype(np.float64)
        scale = np.linalg.norm(a["/history/stats/grad_std"][()]) if path.endswith("grad_mean") else np.linalg.norm(y)
        d = np.linalg.norm(x - y) / (scale + 1e-30)
        if d > 1e-5:
            print(f"{path}: relative difference {d:.3g} > 1e-5"); bad += 1
def walk(group):
    for k in group:
        o = group[k]
        if isinstance(o, h5py.Group): walk(o)
        else: cmp(o.name)
for g in ("/model", "/optimizer", "/history/stats"):
    walk(a[g])
cmp("/history/loss")
n = a["/history/loss"].shape[0]
print(f"loss history: {n} steps straight, {b['/history/loss'].shape[0]} split; step attr {a.attrs['step']} / {b.attrs['step']}")
if n != 40 or b["/history/loss"].shape[0] != 40: bad += 1
steps = b["/history/stats/step"][()]
if list(steps) != list(range(0, 40, 3)):
    print("stats steps:", list(steps)); bad += 1
print("compared", "bitwise" if exact else "within 1e-5", "->", "OK" if not bad else f"{bad} differences")
sys.exit(1 if bad else 0)
PYEOF
[ $? -eq 0 ] && pass "resume on $NP2 ranks after $NP1 matches the straight run" || fail "resumed run differs"
finish
