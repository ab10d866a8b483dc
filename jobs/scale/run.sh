#!/usr/bin/env bash
# jobs/scale/run.sh — the scaling study by simulation: gradscope-bench built
# for SimGrid's SMPI (jobs/scale/build.sh) on simulated platforms, every
# exchange strategy (sharded: reduce-scatter + allgather over messages;
# replicated: one blocking all-reduce, or buckets overlapped with backward),
# weak and strong scaling; then the 2-rank validation against a real run on
# this machine, and the report (jobs/scale/report.py).
#
#   jobs/scale/run.sh
#
# Environment: SMPI_BUILD (build-smpi), BUILD_DIR (build: the real build, for
# the validation), OUT (runs/scale-DATE), PLATFORMS (fattree-100g
# ethernet-25g), MODELS (W D), RANKS (1 8 16 64), STEPS (5), WARMUP (1),
# SCALING (weak strong), VALIDATE (1; 0 skips the 2-rank validation),
# OVERLAP (both: the replicated optimizer's all-reduce blocking and
# overlapped in buckets; off: blocking only), SHARD (both: the sharded and
# the replicated optimizer; on or off: one of them; each smpirun runs them
# in turn, so its peak memory is the larger one's),
# GEMM (measured: each GEMM shape is timed for real a few times, then only
# its duration is simulated, and the rest of the computation, which still
# runs, costs no simulated time; run: everything runs for real and SMPI
# times it, which one process running every rank in turn inflates at scale:
# docs/scale.md),
# SHUFFLE (1; 0: the rows of each batch in order, gradscope-bench
# --no-shuffle, so that in weak scaling, where the training set is one
# global batch, every rank computes the rows it holds and no row moves: the
# data phase, one small message between most pairs of ranks, is what makes
# weak scaling slow to simulate at 256 ranks and more; docs/scale.md),
# SMPI_CFG (extra smpirun arguments, e.g. SMPI's shared allocations for
# the large buffers: "--cfg=smpi/shared-malloc:local
# --cfg=smpi/auto-shared-malloc-thresh:1048576", for runs at 256 ranks
# and more, where every rank's own copy would not fit in memory; `global`
# crashes: it folds the batch's row indices too; docs/scale.md).
# Results: $OUT/sim.tsv (gradscope-bench's TSV, label platform/scaling), $OUT/
# real.tsv, $OUT/runs.txt (what each run did, its host time and memory: how
# far the host's available memory fell while it ran, which includes whatever
# else the host ran meanwhile), $OUT/report.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

SMPI_BUILD=${SMPI_BUILD:-build-smpi}
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-runs/scale-$(date +%Y%m%d-%H%M%S)}
PLATFORMS=${PLATFORMS:-fattree-100g ethernet-25g}
MODELS=${MODELS:-W D}
RANKS=${RANKS-1 8 16 64} # empty: only the validation
STEPS=${STEPS:-5}
WARMUP=${WARMUP:-1}
SCALING=${SCALING:-weak strong}
VALIDATE=${VALIDATE:-1}
OVERLAP=${OVERLAP:-both}
SHARD=${SHARD:-both}
GEMM=${GEMM:-measured}
SHUFFLE=${SHUFFLE:-1}
SMPI_CFG=${SMPI_CFG:-}
PY=${PY:-/usr/bin/python3}

BENCH=$SMPI_BUILD/jobs/bench/gradscope-bench
if [ ! -x "$BENCH" ]; then
  echo "jobs/scale/run.sh: no simulated build at $SMPI_BUILD: run jobs/scale/build.sh first" >&2
  exit 2
fi
mkdir -p "$OUT"
export GRADSCOPE_SIM_GEMM=$GEMM OPENBLAS_NUM_THREADS=1

# Each model's local batch for weak scaling (its benchmark batch) and the
# fixed global batch for strong scaling (2 rows a rank at 1024 ranks).
weak_batch() { case $1 in W) echo 256 ;; D) echo 128 ;; S) echo 64 ;; esac; }
strong_batch() { case $1 in W) echo 4096 ;; D) echo 2048 ;; S) echo 2048 ;; esac; }

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "host: $(uname -n), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "simgrid: $(dpkg-query -W -f '${Version}' libsimgrid-dev 2>/dev/null || echo unknown)"
  echo "OPENBLAS_CORETYPE: ${OPENBLAS_CORETYPE:-unset}; GRADSCOPE_SIM_GEMM=$GEMM; steps $STEPS after $WARMUP warm-up"
  echo "gradscope: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (the simulated build in $SMPI_BUILD is what ran)"
  echo "command: jobs/scale/run.sh (PLATFORMS='$PLATFORMS' MODELS='$MODELS' RANKS='$RANKS' SCALING='$SCALING' OVERLAP='$OVERLAP' SHARD='$SHARD' SHUFFLE='$SHUFFLE' SMPI_CFG='$SMPI_CFG' GRADSCOPE_REDUCE_SCATTER='${GRADSCOPE_REDUCE_SCATTER:-}')"
} | tee -a "$OUT/runs.txt"

# smpirun PLATFORM NP ARGS...: gradscope-bench on the first NP hosts
simulate() {
  local platform=$1 np=$2
  shift 2
  local hosts=$OUT/hosts-$np.txt
  seq 0 $((np - 1)) | sed 's/^/node-/' >"$hosts"
  smpirun -np "$np" -platform "jobs/scale/platforms/$platform.xml" -hostfile "$hosts" \
    --cfg=smpi/privatization:1 --cfg=smpi/host-speed:1Gf --cfg=smpi/test:0 --cfg=smpi/coll-selector:ompi \
    --cfg=smpi/simulate-computation:$([ "$GEMM" = measured ] && echo no || echo yes) --log=root.thres:warning \
    $SMPI_CFG "$BENCH" --steps "$STEPS" --warmup "$WARMUP" --no-bound --overlap "$OVERLAP" --shard "$SHARD" \
    $([ "$SHUFFLE" = 0 ] && echo --no-shuffle) "$@"
}

# avail_kb: the host's available memory; a run's memory is how far it fell
# below its value at the start (sampled each second by a background loop)
avail_kb() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
watch_memory() { # FILE: the lowest value seen, until killed
  local low
  low=$(avail_kb)
  while sleep 1; do
    local now
    now=$(avail_kb)
    [ "$now" -lt "$low" ] && low=$now && echo "$low" >"$1.new" && mv "$1.new" "$1"
  done
}

for platform in $PLATFORMS; do
  for scaling in $SCALING; do
    for model in $MODELS; do
      for np in $RANKS; do
        if [ "$scaling" = weak ]; then per_rank=$(weak_batch "$model"); else per_rank=$(($(strong_batch "$model") / np)); fi
        global=$((per_rank * np))
        n_train=$((global > 4096 ? global : 4096))
        [ "$SHUFFLE" = 0 ] && n_train=$global # one global batch: every rank's rows are its own
        t0=$(date +%s) rc=0
        log=$OUT/$platform-$scaling-$model-$np.log
        avail0=$(avail_kb)
        echo "$avail0" >"$OUT/.low"
        watch_memory "$OUT/.low" &
        watcher=$!
        trap 'kill "$watcher" 2>/dev/null' EXIT # the sampler does not outlive a stopped study
        simulate "$platform" "$np" --models "$model" --batch-per-rank "$per_rank" --n-train "$n_train" \
          --tsv "$OUT/sim.tsv" --label "$platform/$scaling" > "$log" 2>&1 || rc=$?
        kill "$watcher" 2>/dev/null || true
        wait "$watcher" 2>/dev/null || true
        trap - EXIT
        grep -E "^$model " "$log" || true
        low=$(cat "$OUT/.low")
        what="$(($(date +%s) - t0)) s on the host, memory $(((avail0 - ${low:-$avail0}) / 1024)) MB"
        [ $rc -eq 0 ] || what="$what, FAILED (exit $rc): $(grep -m1 -iE 'error|fault|need ' "$log" || tail -1 "$log")"
        echo "$platform $scaling $model np=$np batch=$global ($per_rank a rank): $what" | tee -a "$OUT/runs.txt"
      done
    done
  done
done

# The validation: the same benchmark at 2 ranks on a platform that models
# this machine, against a real 2-rank run made right after it, each exchange
# of SHARD over messages in both (the simulated build has no shared memory).
if [ "$VALIDATE" = 1 ]; then
  for model in W D S; do
    simulate this-machine 2 --models "$model" --tsv "$OUT/sim.tsv" --label this-machine/validate | grep -E "^$model "
    for rep in 1 2 3; do # the report takes the fastest: the host's other work only slows a run
      OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1} \
        GRADSCOPE_SHARED_MEMORY=0 mpirun -np 2 "$BUILD_DIR/jobs/bench/gradscope-bench" --models "$model" \
        --steps "$STEPS" --warmup "$WARMUP" --no-bound --overlap "$OVERLAP" --shard "$SHARD" --tsv "$OUT/real.tsv" --label real/validate \
        | grep -E "^$model "
    done
  done
fi

"$PY" jobs/scale/report.py "$OUT" | tee "$OUT/report.md"
echo "results in $OUT"
