#!/usr/bin/env bash
# jobs/scale/reduce_scatter.sh — the sharded optimizer's reduce-scatter over
# messages, gradscope's ring against Open MPI's MPI_Reduce_scatter
# (GRADSCOPE_REDUCE_SCATTER=ring|mpi), in the same simulation: D's weak
# scaling (128 rows a rank) on the platforms and rank counts of CASES, then
# W and D at 2 ranks on this-machine.xml. Prints gradscope-bench's rows
# prefixed by platform and mode; the exchange the step waits for is the
# column after backward (docs/scale.md, "Consequences").
#
#   jobs/scale/reduce_scatter.sh
#
# Environment: SMPI_BUILD (build-smpi), OUT (runs/reduce-scatter-DATE),
# CASES ("fattree-100g:32 fattree-100g:64 ethernet-25g:64"), STEPS (3).
set -euo pipefail
cd "$(dirname "$0")/../.."
SMPI_BUILD=${SMPI_BUILD:-build-smpi}
OUT=${OUT:-runs/reduce-scatter-$(date +%Y%m%d-%H%M%S)}
CASES=${CASES:-fattree-100g:32 fattree-100g:64 ethernet-25g:64}
STEPS=${STEPS:-3}
BENCH=$SMPI_BUILD/jobs/bench/gradscope-bench
[ -x "$BENCH" ] || { echo "jobs/scale/reduce_scatter.sh: no simulated build at $SMPI_BUILD: run jobs/scale/build.sh first" >&2; exit 2; }
mkdir -p "$OUT"
export GRADSCOPE_SIM_GEMM=measured OPENBLAS_NUM_THREADS=1

sim() { # PLATFORM NP MODE BENCH-ARGS...
  local platform=$1 np=$2 mode=$3 hosts=$OUT/hosts-$2.txt
  shift 3
  seq 0 $((np - 1)) | sed 's/^/node-/' >"$hosts"
  GRADSCOPE_REDUCE_SCATTER=$mode smpirun -np "$np" -platform "jobs/scale/platforms/$platform.xml" -hostfile "$hosts" \
    --cfg=smpi/privatization:1 --cfg=smpi/host-speed:1Gf --cfg=smpi/test:0 --cfg=smpi/coll-selector:ompi \
    --cfg=smpi/simulate-computation:no --log=root.thres:warning \
    "$BENCH" --no-bound --shard on --overlap off --warmup 1 --tsv "$OUT/sim.tsv" --label "$platform/$mode" "$@" \
    | grep -E "^[WDS] " | sed "s|^|$platform $mode |"
}

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)," \
  "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}" | tee "$OUT/runs.txt"
for c in $CASES; do
  platform=${c%:*} np=${c#*:}
  for mode in ring mpi; do
    sim "$platform" "$np" "$mode" --models D --steps "$STEPS" --batch-per-rank 128 \
      --n-train $((np * 128 > 4096 ? np * 128 : 4096)) | tee -a "$OUT/runs.txt"
  done
done
for mode in ring mpi; do
  sim this-machine 2 "$mode" --models W,D --steps 10 | tee -a "$OUT/runs.txt"
done
echo "results in $OUT"
