#!/usr/bin/env bash
# A short single-rank training with a checkpoint under valgrind memcheck:
# no invalid read or write, no use of uninitialized memory, no definitely
# lost block. Suppressions (tests/valgrind/gradscope.supp) cover Open MPI,
# OpenBLAS and HDF5 internals only, each documented there. Then the
# checkpoint is read back (inspect) under valgrind too, and the CSV and NPZ
# converters run on good input and fail on bad input, also under valgrind.
. "$(dirname "$0")/lib.sh"
command -v valgrind > /dev/null || { echo "valgrind not installed: skipped"; exit 0; }
ldd "$GS" | grep -q libasan && { echo "an ASan build cannot run under valgrind: skipped"; exit 0; }
SUPP=${GRADSCOPE_TESTS:-$(dirname "$0")}/valgrind/gradscope.supp
# valgrind has no AVX-512: OpenBLAS must run an AVX2 (or older) kernel. A
# kernel set by the site is never changed (other kernels may be wrong or
# crash there): an AVX-512 one means this test cannot run here. Unset, the
# test picks Haswell where the CPU has AVX2. gradscope must not re-execute itself to pick a kernel
# either (the new program would run outside valgrind).
case "${OPENBLAS_CORETYPE:-}" in
  "") grep -qw avx2 /proc/cpuinfo && export OPENBLAS_CORETYPE=Haswell ;;
  SkylakeX|Cooperlake|SapphireRapids|skylakex|cooperlake|sapphirerapids)
    echo "skipped: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE is set, an AVX-512 kernel, which valgrind cannot run"; exit 77 ;;
esac
export GRADSCOPE_KEEP_BLAS_KERNEL=1 OPENBLAS_NUM_THREADS=1
write_config "$WORK/v.ini" <<INI
[model]
layers = 6, 16, 3
[data]
synthetic = teacher
n_train = 64
n_test = 16
[train]
epochs = 1
max_steps = 4
batch_size = 16
blas_threads = 1
log_every = 1
watchdog_seconds = 0
[checkpoint]
dir = $WORK/run
every_steps = 2
[stats]
every_steps = 2
INI
vg() { # LOG command...
  local log=$1; shift
  timeout 120 valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
    --suppressions="$SUPP" --num-callers=30 --track-origins=no "$@" > "$log" 2>&1
}
vg "$WORK/train.log" "$GS" train "$WORK/v.ini"; rc=$?
grep -E "ERROR SUMMARY|definitely lost" "$WORK/train.log"
if [ "$rc" -eq 0 ] && [ -e "$WORK/run/latest" ]; then pass "training under valgrind: clean"
else fail "training under valgrind: exit $rc"; grep -B2 -A30 "^==[0-9]*== [A-Z].*\(Invalid\|uninitialised\|definitely\)" "$WORK/train.log" | head -80; fi
vg "$WORK/inspect.log" "$GS" inspect "$(latest_ckpt "$WORK/run")"; rc=$?
[ "$rc" -eq 0 ] && pass "inspect under valgrind: clean" \
  || { fail "inspect under valgrind: exit $rc"; grep -A30 "Invalid\|uninitialised\|definitely" "$WORK/inspect.log" | head -60; }

printf 'x1,x2,label\n1.5,2,"b, quoted\nline"\n3,4.25,a\n-1,0,a\n' > "$WORK/v.csv"
printf 'x1,x2,label\n1.5,2,a\n3,oops,b\n' > "$WORK/bad.csv"
"$PY" -c "
import numpy as np
np.savez_compressed('$WORK/v.npz', X=np.arange(12, dtype=np.float64).reshape(4, 3), y=np.arange(4))
X = np.ones((4, 3)); X[3, 1] = np.nan; np.save('$WORK/nan.npy', X); np.save('$WORK/y.npy', np.arange(4))"
conv() { # LABEL WANT-STATUS convert-args...
  local label=$1 want=$2; shift 2
  vg "$WORK/conv.log" "$GS" convert "$@"; local rc=$?
  [ "$rc" -eq "$want" ] && pass "convert $label under valgrind: clean (exit $rc)" \
    || { fail "convert $label under valgrind: exit $rc"; grep -A30 "Invalid\|uninitialised\|definitely" "$WORK/conv.log" | head -60; }
}
conv "csv" 0 csv "$WORK/v.csv" "$WORK/v.h5"
conv "csv, a bad cell" 3 csv "$WORK/bad.csv" "$WORK/b.h5"
conv "npz" 0 npz "$WORK/v.npz" "$WORK/z.h5"
conv "npy, NaN in the last row" 3 npy "$WORK/nan.npy" "$WORK/y.npy" "$WORK/n.h5"
finish
