#!/usr/bin/env bash
# The remedies of the vanishing gradient, measured on Fashion-MNIST: what
# each does to a deep net that cannot learn, and to the 30-layer ReLU net of
# He et al. (2015) with Xavier and with He init.
#   - a sigmoid MLP of 20 hidden layers of 128 units, Xavier (normal) init,
#     SGD with momentum: as it is, then with batch norm, layer norm, residual
#     blocks of 1 layer, and Adam (each alone);
#   - a ReLU MLP of 30 hidden layers of 128: Xavier, He, He + batch norm,
#     at learning rate 0.01 (at 0.05 the He net goes non-finite: the last row).
# For each: the first layer's gradient norm over the last layer's (ratio) at
# the first step and at the last statistics record, and the test accuracy
# after EPOCHS epochs. Prints a markdown table (docs/remedies.md holds one).
#   jobs/experiments/remedies.sh          (EPOCHS=3, NP=2, SEED=42, OUT=runs/remedies, BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/../.."
EPOCHS=${EPOCHS:-3} NP=${NP:-2} SEED=${SEED:-42} OUT=${OUT:-runs/remedies} BUILD_DIR=${BUILD_DIR:-build}
GS=$BUILD_DIR/gradscope
[ -x "$GS" ] || jobs/build.sh > /dev/null
if [ ! -f data/fashion-mnist-train.h5 ]; then
  SRC=/usr/share/datasets/fashion-mnist
  mkdir -p data
  $GS convert idx $SRC/train-images-idx3-ubyte.gz $SRC/train-labels-idx1-ubyte.gz data/fashion-mnist-train.h5
  $GS convert idx $SRC/t10k-images-idx3-ubyte.gz $SRC/t10k-labels-idx1-ubyte.gz data/fashion-mnist-test.h5
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
widths() { local s="784"; for _ in $(seq "$1"); do s="$s, 128"; done; echo "$s, 10"; }
rm -rf "$OUT"
mkdir -p "$OUT"
cat > "$OUT/base.ini" <<INI
[data]
synthetic = none
train = data/fashion-mnist-train.h5
test = data/fashion-mnist-test.h5
scale = 0.00392156862745098
[train]
epochs = $EPOCHS
batch_size = 128
seed = $SEED
eval_every = 0
log_every = 100000
[optimizer]
lr = 0.05
momentum = 0.9
[stats]
every_steps = 100
INI
run() { # NAME HIDDEN ACTIVATION INIT [--set ...]
  local name=$1 hidden=$2 act=$3 init=$4
  shift 4
  mpirun -np "$NP" "$GS" train "$OUT/base.ini" --set "model.layers=$(widths "$hidden")" --set "model.activation=$act" \
    --set "model.init=$init" --set "checkpoint.dir=$OUT/$name" "$@" > "$OUT/$name.log" 2>&1 \
    || { echo "$name failed: $OUT/$name.log"; tail -3 "$OUT/$name.log"; }
}
adam=(--set optimizer.type=adam --set optimizer.momentum=0 --set optimizer.lr=0.001)
run sigmoid20 20 sigmoid xavier_normal
run sigmoid20-batch 20 sigmoid xavier_normal --set model.norm=batch
run sigmoid20-layer 20 sigmoid xavier_normal --set model.norm=layer
run sigmoid20-residual 20 sigmoid xavier_normal --set model.residual=1
run sigmoid20-adam 20 sigmoid xavier_normal "${adam[@]}"
run relu30-xavier 30 relu xavier_normal --set optimizer.lr=0.01
run relu30-he 30 relu he_normal --set optimizer.lr=0.01
run relu30-he-batch 30 relu he_normal --set model.norm=batch --set optimizer.lr=0.01
run relu30-he-lr005 30 relu he_normal
echo "Fashion-MNIST, $EPOCHS epochs, batch 128, seed $SEED, $NP ranks; SGD with momentum 0.9, lr 0.05 (sigmoid) or"
echo "0.01 (ReLU) unless the row says otherwise; Adam: lr 0.001, betas 0.9, 0.999, eps 1e-8;"
echo "$("$GS" blas | sed -n 's/^kernel /OpenBLAS kernel /p'), CPU $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(date -I)"
echo
/usr/bin/python3 - "$OUT" <<'PY'
import os, sys, h5py
out = sys.argv[1]
rows = [("sigmoid20", "20 x 128 sigmoid, Xavier"), ("sigmoid20-batch", "  + batch norm"),
        ("sigmoid20-layer", "  + layer norm"), ("sigmoid20-residual", "  + residual blocks of 1"),
        ("sigmoid20-adam", "  + Adam"), ("relu30-xavier", "30 x 128 ReLU, Xavier"), ("relu30-he", "30 x 128 ReLU, He"),
        ("relu30-he-batch", "  + batch norm"), ("relu30-he-lr005", "30 x 128 ReLU, He, lr 0.05")]
print("| network | ratio first/last at step 0 | at the last record | first layer's verdicts (step 0 -> last) | test accuracy |")
print("|---|---:|---:|---|---:|")
for name, label in rows:
    d = os.path.join(out, name)
    log = open(os.path.join(out, name + ".log")).read()
    if "went non-finite" in log:
        why = [l for l in log.splitlines() if "went non-finite" in l][0].split("gradscope: ")[-1].split(" (")[0]
        print(f"| {label} | | | {why} | (exit 5) |"); continue
    if not os.path.exists(os.path.join(d, "latest")):
        print(f"| {label} | failed | | | |"); continue
    f = h5py.File(os.path.join(d, open(os.path.join(d, "latest")).read().strip()), "r")
    r = f["history/stats/ratio_to_last"][()]
    steps = f["history/stats/step"][()]
    v = f["history/stats/verdict"][()]
    acc = f["history/eval/accuracy"][()]
    first = [l for l in log.splitlines() if "diagnosis step 0: layer 0 " in l or "diagnosis step 0: all" in l]
    v0 = "healthy" if first and "all" in first[0] else (first[0].split("layer 0 ")[1].split(" (")[0] if first else "?")
    print(f"| {label} | {r[0, 0]:.2e} | {r[-1, 0]:.2e} (step {steps[-1]}) | {v0} -> {v[0].decode()} | "
          f"{acc[-1]:.4f} |")
PY
