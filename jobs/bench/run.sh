#!/usr/bin/env bash
# jobs/bench/run.sh — the whole Performance benchmark in one command:
# gradscope-bench at 1 rank x 1 thread, 1 rank x 2 threads and 2 ranks x 1
# thread (sharded optimizer; replicated with overlap off and on), PyTorch on
# the same models, threads and
# OpenBLAS kernel when /usr/bin/python3 can import torch, and a report.
#
#   jobs/bench/run.sh [CONFIG.ini ...]     (extra configs are benchmarked too)
#
# Environment: BUILD_DIR (build), STEPS (30), WARMUP (4), OUT (runs/bench-DATE),
# MODELS (W,D,S), REPEAT (3: every configuration runs this many times, in
# turn, and the report takes the run with the median step time, so that one
# disturbed run does not decide a row), CONFIGS (ranks x threads, default
# "1x1 1x2 2x1"; on a bigger node e.g. "1x1 1x2 2x1 4x1 8x1 16x1": beyond
# those three, gradscope runs only its default mode, the sharded optimizer,
# and PyTorch is not run), PY (/usr/bin/python3: the Python that runs
# PyTorch and the report), TORCH (1; 0 skips PyTorch), VARIANTS (none;
# "remedies", "reproducible" or both: also runs gradscope-bench --remedies /
# --reproducible at 1x1 and 2x1, each model as it is and in each variant,
# into $OUT/variants.tsv), VARIANT_CONFIGS ("1x1 2x1": where the variants
# run), VARIANTS_ONLY (0; 1 runs the variants only).
# Results: $OUT/gradscope.tsv, $OUT/torch.tsv, $OUT/variants.tsv, $OUT/report.md.
# About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-4}
REPEAT=${REPEAT:-3}
MODELS=${MODELS:-W,D,S}
CONFIGS=${CONFIGS:-1x1 1x2 2x1}
OUT=${OUT:-runs/bench-$(date +%Y%m%d-%H%M%S)}
PY=${PY:-/usr/bin/python3}
TORCH=${TORCH:-1}
VARIANTS=${VARIANTS:-}
VARIANTS_ONLY=${VARIANTS_ONLY:-0}
VARIANT_CONFIGS=${VARIANT_CONFIGS:-1x1 2x1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

BENCH=$BUILD_DIR/jobs/bench/gradscope-bench
if [ ! -x "$BENCH" ] || [ ! -x "$BUILD_DIR/gradscope" ]; then
  jobs/build.sh -DGRADSCOPE_BENCH=ON
fi
mkdir -p "$OUT"
rm -f "$OUT/gradscope.tsv" "$OUT/torch.tsv" "$OUT/variants.tsv"

# The machine, and the kernel gradscope runs on (it sets OPENBLAS_CORETYPE
# itself when OpenBLAS fell back to a generic kernel; a value already in the
# environment is kept, for gradscope and for torch alike).
KERNEL=$("$BUILD_DIR/gradscope" blas | awk '$1 == "kernel" { print $2 }')
{
  echo "date: $(date -Is)"
  echo "host: $(hostname)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(lscpu | sed -n 's/^L2 cache: *//p') L2"
  echo "kernel: $(uname -sr)"
  echo "openblas: $("$BUILD_DIR/gradscope" blas | tr '\n' ' ')"
  echo "mpi: $(mpirun --version 2>/dev/null | head -1)"
  echo "command: jobs/bench/run.sh $* (STEPS=$STEPS WARMUP=$WARMUP MODELS=$MODELS REPEAT=$REPEAT CONFIGS='$CONFIGS' VARIANTS='$VARIANTS' VARIANT_CONFIGS='$VARIANT_CONFIGS' VARIANTS_ONLY=$VARIANTS_ONLY)"
} | tee "$OUT/machine.txt"

# Timings need the cores to themselves: wait (up to QUIET_WAIT s, default
# 90) until the CPUs are at least 90% idle over 2 s, and record how busy
# they were before each run (other processes on the machine skew timings).
busy_pct() { # CPU busy % over 2 s, from /proc/stat
  local a b
  a=$(awk '/^cpu / { print $2+$3+$4+$7+$8, $5+$6 }' /proc/stat)
  sleep 2
  b=$(awk '/^cpu / { print $2+$3+$4+$7+$8, $5+$6 }' /proc/stat)
  echo "$a $b" | awk '{ busy = $3 - $1; idle = $4 - $2; printf "%.0f", 100 * busy / (busy + idle + 1e-9) }'
}
quiet() {
  local waited=0 busy
  busy=$(busy_pct)
  while [ "$busy" -gt 10 ] && [ "$waited" -lt "${QUIET_WAIT:-90}" ]; do
    sleep 3
    waited=$((waited + 5))
    busy=$(busy_pct)
  done
  echo "CPU busy before $1: ${busy}% (waited ${waited} s)" | tee -a "$OUT/machine.txt"
}

run_bench() { # LABEL NP THREADS [ARGS]; TSV (default gradscope.tsv)
  local label=$1 np=$2 threads=$3 tsv=$OUT/${TSV:-gradscope.tsv}
  shift 3
  quiet "gradscope $label"
  echo "== gradscope $label"
  if [ "$np" -eq 1 ]; then
    timeout 600 "$BENCH" --threads "$threads" --steps "$STEPS" --warmup "$WARMUP" --models "$MODELS" \
      --tsv "$tsv" --label "$label" "$@"
  else
    timeout 600 mpirun -np "$np" "$BENCH" --threads "$threads" --steps "$STEPS" --warmup "$WARMUP" \
      --models "$MODELS" --tsv "$tsv" --label "$label" "$@"
  fi
}
standard() { case $1 in 1x1 | 1x2 | 2x1) return 0 ;; esac; return 1; }
run_torch() { # LABEL PROCS THREADS
  quiet "torch $1"
  echo "== torch $1"
  OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$KERNEL} OPENBLAS_NUM_THREADS=$3 OMP_NUM_THREADS=$3 \
    timeout 600 "$PY" jobs/bench/torch_mlp.py --models "$MODELS" --procs "$2" --threads "$3" \
    --steps "$STEPS" --warmup "$WARMUP" --tsv "$OUT/torch.tsv" --label "$1"
}
if [ "$TORCH" = 0 ]; then
  echo "== torch: skipped (TORCH=0)"
elif ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "== torch: $PY cannot import torch (apt-get install python3-torch); skipped"
  TORCH=0
fi
# Each configuration's gradscope run and PyTorch run follow each other, so
# that a ratio compares runs made minutes apart at most: the speed of a
# shared host drifts over the minutes a whole benchmark takes.
for rep in $(seq "$REPEAT"); do
  [ "$VARIANTS_ONLY" = 1 ] && break
  for c in $CONFIGS; do
    # the replicated modes are reference points, measured at 2 ranks
    if standard "$c"; then
      run_bench "$c" "${c%x*}" "${c#*x}" "$@"
      if [ "$TORCH" != 0 ]; then run_torch "$c" "${c%x*}" "${c#*x}"; fi
    else
      run_bench "$c" "${c%x*}" "${c#*x}" --shard on "$@"
    fi
  done
done

# What a remedy or the reproducible mode costs: each model as it is and in
# each variant, in turn within one run, so that a ratio compares steps made
# seconds apart.
for rep in $(seq "$REPEAT"); do
  for v in $VARIANTS; do
    for c in $VARIANT_CONFIGS; do TSV=variants.tsv run_bench "$c" "${c%x*}" "${c#*x}" "--$v" "$@"; done
  done
done

"$PY" jobs/bench/report.py "$OUT" | tee "$OUT/report.md"
echo "results in $OUT"
