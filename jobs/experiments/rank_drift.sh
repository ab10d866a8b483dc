#!/usr/bin/env bash
# How far apart 1 rank and N ranks train the same config: the same global
# batches, summed in another order. Prints, for each rank count against
# the first: the first step whose loss differs, the loss difference at
# steps 10, 100, 200, ... and at the end, the final weights' largest
# normwise (||a - b|| / ||b||) and elementwise (max |a - b| / max |b|)
# relative difference over the tensors, and each run's final accuracy.
#
#   jobs/experiments/rank_drift.sh [CONFIG] [RANKS...]
#   (default: the main job's config at 6 epochs, ranks 1 2)
# Also: every dataset of the final checkpoints compared bit for bit
# (tests/ckpt_same.py).
# Environment: EPOCHS (6), OUT (runs/rank-drift), BUILD_DIR (build),
# EXTRA (more --set arguments for every run, e.g. "--set train.reproducible=true").
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${1:-jobs/configs/fashion_mnist.ini}
shift || true
RANKS=("${@:-1}")
[ $# -gt 0 ] || RANKS=(1 2)
EPOCHS=${EPOCHS:-6}
OUT=${OUT:-runs/rank-drift}
BUILD_DIR=${BUILD_DIR:-build}
GS=$BUILD_DIR/gradscope
[ -x "$GS" ] || jobs/build.sh > /dev/null
if grep -q '^train *= *data/fashion-mnist' "$CONFIG" && [ ! -f data/fashion-mnist-train.h5 ]; then
  SRC=/usr/share/datasets/fashion-mnist
  mkdir -p data
  $GS convert idx $SRC/train-images-idx3-ubyte.gz $SRC/train-labels-idx1-ubyte.gz data/fashion-mnist-train.h5
  $GS convert idx $SRC/t10k-images-idx3-ubyte.gz $SRC/t10k-labels-idx1-ubyte.gz data/fashion-mnist-test.h5
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "config $CONFIG, $EPOCHS epochs, ranks ${RANKS[*]}; $("$GS" blas | sed -n 's/^kernel /OpenBLAS kernel /p'); CPU $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
rm -rf "$OUT"
for np in "${RANKS[@]}"; do
  # one BLAS thread per rank at every rank count: only the summation over ranks differs
  mpirun -np "$np" "$GS" train "$CONFIG" --set train.epochs="$EPOCHS" --set train.blas_threads=1 \
    --set checkpoint.dir="$OUT/np$np" --set checkpoint.every_steps=0 ${EXTRA:-} > "$OUT-np$np.log" 2>&1 \
    || { echo "the run on $np ranks failed: $OUT-np$np.log"; tail -5 "$OUT-np$np.log"; exit 1; }
done
/usr/bin/python3 - "$OUT" "${RANKS[@]}" <<'PY'
import sys, h5py, numpy as np
out, ranks = sys.argv[1], sys.argv[2:]
def ckpt(np_):
    d = f"{out}/np{np_}"
    return h5py.File(f"{d}/{open(d + '/latest').read().strip()}", "r")
a = ckpt(ranks[0])
la = a["history/loss"][()]
names = [n.decode() for n in a["model/layer_names"][()]]
print(f"{'ranks':>9} {'first differing step':>21} " + " ".join(f"{'|dloss| @' + str(s):>13}" for s in (10, 100, 200)) +
      f" {'|dloss| end':>12} {'weights normwise':>17} {'elementwise':>12} {'accuracy':>17}")
for r in ranks[1:]:
    b = ckpt(r)
    lb = b["history/loss"][()]
    diff = np.nonzero(la.view(np.uint32) != lb.view(np.uint32))[0]
    first = str(diff[0]) if diff.size else "none"
    at = [f"{abs(float(la[s]) - float(lb[s])):13.3g}" if s < la.size else f"{'-':>13}" for s in (10, 100, 200)]
    norm = elem = 0.0
    for n in names:
        for p in ("weight", "bias"):
            x, y = a[f"model/{n}/{p}"][()].astype(np.float64), b[f"model/{n}/{p}"][()].astype(np.float64)
            norm = max(norm, np.linalg.norm(x - y) / (np.linalg.norm(y) + 1e-30))
            elem = max(elem, np.max(np.abs(x - y)) / (np.max(np.abs(y)) + 1e-30))
    acc = lambda f: float(f["history/eval/accuracy"][-1])
    print(f"{ranks[0] + ' vs ' + r:>9} {first:>21} " + " ".join(at) +
          f" {abs(float(la[-1]) - float(lb[-1])):12.3g} {norm:17.3g} {elem:12.3g} {acc(a):8.4f} {acc(b):8.4f}")
PY
# every dataset of the final checkpoints, bit for bit (but the run's own
# record: its rank count, and the config, whose checkpoint.dir differs)
for np in "${RANKS[@]:1}"; do
  a=$OUT/np${RANKS[0]} b=$OUT/np$np
  echo "${RANKS[0]} vs $np, every dataset: $(/usr/bin/python3 tests/ckpt_same.py "$a/$(cat "$a/latest")" "$b/$(cat "$b/latest")" \
    --ignore /state/n_ranks --ignore /config || true)"
done
