#!/usr/bin/env bash
# The main job: install what is missing, build, convert Debian's
# Fashion-MNIST to HDF5 and train an MLP on 2 local MPI ranks.
#   jobs/fashion_mnist.sh [NP] [--set section.key=value ...] [--resume auto]
# Run again, it starts afresh: it passes --overwrite, which deletes the
# previous run's checkpoints in runs/fashion-mnist (a demo, not a store;
# copy a model you want to keep, or pass --resume auto to continue one).
set -euo pipefail
cd "$(dirname "$0")/.."
NP=2
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then NP=$1; shift; fi
jobs/deps.sh
jobs/build.sh > /dev/null
GS=build/gradscope
SRC=/usr/share/datasets/fashion-mnist
mkdir -p data
[ -f data/fashion-mnist-train.h5 ] ||
  $GS convert idx $SRC/train-images-idx3-ubyte.gz $SRC/train-labels-idx1-ubyte.gz data/fashion-mnist-train.h5
[ -f data/fashion-mnist-test.h5 ] ||
  $GS convert idx $SRC/t10k-images-idx3-ubyte.gz $SRC/t10k-labels-idx1-ubyte.gz data/fashion-mnist-test.h5
# Open MPI refuses root unless told; more ranks than cores need oversubscribe.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
fresh=(--overwrite)
for a in "$@"; do [ "$a" = --resume ] && fresh=(); done
exec mpirun -np "$NP" $GS train jobs/configs/fashion_mnist.ini "${fresh[@]}" "$@"
