#!/usr/bin/env bash
# jobs/scale/build.sh — gradscope and gradscope-bench built for SimGrid's SMPI
# (Debian 12: apt-get install libsimgrid-dev), into build-smpi (or $1).
#
# Every rank of a simulated job is a thread of control of one process, so the
# build leaves out what cannot work there, and says so at run time where it
# matters: the watchdog thread (train.watchdog_seconds is ignored), the
# re-execution that picks OpenBLAS's kernel (the kernel is the one loaded),
# and shared-memory windows (the exchanges use messages: the sharded
# optimizer's reduce-scatter + allgather, the replicated all-reduce).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-smpi}
if ! command -v smpicc >/dev/null; then
  echo "jobs/scale/build.sh: smpicc not found: apt-get install libsimgrid-dev" >&2
  exit 2
fi
CC=smpicc cmake -S . -B "$out" -DGRADSCOPE_SMPI=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$out" -j "$(nproc)" --target gradscope gradscope-bench
echo "simulated build in $out: $out/gradscope, $out/jobs/bench/gradscope-bench (run them with smpirun)"
