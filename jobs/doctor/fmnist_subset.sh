#!/usr/bin/env bash
# The Fashion-MNIST subset of the doctor's benchmark: the first 6000
# training images and the first 2000 test images of Debian's
# dataset-fashion-mnist, as data/fmnist-6k-train.h5 and data/fmnist-2k-test.h5
# (uint8 /X [N, 784], /y [N]). Converted with `gradscope convert idx`, then
# cut with h5py; nothing is downloaded, nothing is committed (data/ is
# git-ignored). Usage: jobs/doctor/fmnist_subset.sh [GRADSCOPE_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
GS=${1:-build/gradscope}
SRC=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
PY=/usr/bin/python3
mkdir -p data
[ -f data/fashion-mnist-train.h5 ] ||
  "$GS" convert idx "$SRC/train-images-idx3-ubyte.gz" "$SRC/train-labels-idx1-ubyte.gz" data/fashion-mnist-train.h5
[ -f data/fashion-mnist-test.h5 ] ||
  "$GS" convert idx "$SRC/t10k-images-idx3-ubyte.gz" "$SRC/t10k-labels-idx1-ubyte.gz" data/fashion-mnist-test.h5
"$PY" - <<'PYEOF'
import h5py, os
for src, dst, n in (("data/fashion-mnist-train.h5", "data/fmnist-6k-train.h5", 6000),
                    ("data/fashion-mnist-test.h5", "data/fmnist-2k-test.h5", 2000)):
    if os.path.exists(dst):
        continue
    with h5py.File(src, "r") as f, h5py.File(dst + ".tmp", "w") as g:
        g["X"] = f["X"][:n]
        g["y"] = f["y"][:n]
    os.replace(dst + ".tmp", dst)
    print("wrote", dst, n, "rows")
PYEOF
