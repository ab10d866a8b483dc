#!/usr/bin/env bash
# The kernel matrix: the fast part of the suite (everything but the Slurm,
# valgrind and fuzzing tests) under each OpenBLAS kernel this CPU can
# execute, and a table of kernel x tests passed.
#
# Only where OPENBLAS_CORETYPE is unset when it starts: a site sets it where
# other kernels compute wrong results or crash, and then this prints one line
# and exits 0. A kernel under which OpenBLAS itself computes a wrong GEMM
# (`gradscope blas --check`: small products against a double-precision
# triple loop) is reported as broken by OpenBLAS and its tests are not run;
# a kernel this OpenBLAS build does not have (it loads another) is named so.
# Exit status: 0 when every runnable kernel passes, 1 otherwise.
#
#   jobs/test_kernels.sh                 (after jobs/build.sh or jobs/test.sh)
#   BUILD_DIR=build-x jobs/test_kernels.sh
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -n "${OPENBLAS_CORETYPE+x}" ]; then
  echo "site kernel ${OPENBLAS_CORETYPE}: matrix skipped"
  exit 0
fi
BUILD_DIR=${BUILD_DIR:-build}
[ -x "$BUILD_DIR/gradscope" ] || jobs/build.sh > /dev/null || exit 1
LOGS=$BUILD_DIR/kernel-matrix
mkdir -p "$LOGS"

flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
kernels=(default)
has pni && kernels+=(Prescott)
has avx && kernels+=(Sandybridge)
has avx2 fma && kernels+=(Haswell Zen)
has avx512f avx512bw avx512vl avx512dq avx512cd && kernels+=(SkylakeX)
has avx512f avx512bw avx512vl avx512dq avx512cd avx512_bf16 && kernels+=(Cooperlake)

printf '%-11s %-11s %-10s %s\n' kernel loaded gemm tests
status=0
for k in "${kernels[@]}"; do
  env=(env)
  [ "$k" = default ] || env=(env OPENBLAS_CORETYPE="$k")
  out=$("${env[@]}" "$BUILD_DIR/gradscope" blas --check 2>&1); check=$?
  loaded=$(sed -n 's/^kernel //p' <<< "$out")
  if [ "$k" != default ] && [ "${loaded,,}" != "${k,,}" ]; then
    printf '%-11s %-11s %-10s %s\n' "$k" "${loaded:-?}" - "not in this OpenBLAS build: not run"
    continue
  fi
  if [ $check -ne 0 ]; then
    printf '%-11s %-11s %-10s %s\n' "$k" "${loaded:-?}" BROKEN "broken by OpenBLAS (wrong GEMM): not run"
    sed -n 's/^gemm *//p' <<< "$out" | sed 's/^/    /'
    continue
  fi
  log=$LOGS/$k.log
  (cd "$BUILD_DIR" && "${env[@]}" ctest -LE 'slurm|valgrind|fuzz|browser' -j"$(nproc)" --timeout 300 --output-on-failure > "$(basename "$log")" 2>&1)
  mv "$BUILD_DIR/$(basename "$log")" "$log"
  summary=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$log")
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<< "$summary")
  failed=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<< "$summary")
  skipped=$(grep -c '\*\*\*Skipped\|Not Run' "$log")
  if [ -z "$summary" ]; then
    printf '%-11s %-11s %-10s %s\n' "$k" "$loaded" ok "ctest did not finish: see $log"
    status=1
  elif [ "$failed" -ne 0 ]; then
    printf '%-11s %-11s %-10s %s\n' "$k" "$loaded" ok "$((total - failed))/$total passed ($skipped skipped), FAILED:"
    sed -n '/The following tests FAILED/,/Errors while running/p' "$log" | grep -E '^\s+[0-9]+ -' | sed 's/^\s*/    /'
    # each failed test's own output (the log stays in the build tree, which
    # CI's clone discards)
    grep -A30 -E '\*\*\*(Failed|Timeout|Exception)' "$log" | sed 's/^/      | /'
    status=1
  else
    printf '%-11s %-11s %-10s %s\n' "$k" "$loaded" ok "$total/$total passed ($skipped skipped)"
  fi
done
echo "logs: $LOGS/"
exit $status
