#!/usr/bin/env bash
# Checkpoints of every older format_version stay readable: the committed
# fixtures (tests/fixtures/ckpt_v<N>.h5, written by the gradscope of that
# format from ckpt_v<N>.ini) are inspected and resumed by this build.
#   - inspect reads each one and names its format, saying what it does not record
#     (the histograms, before format 5);
#   - train --resume continues from it to a later step and exits 0; the new
#     checkpoint is of the current format, records its provenance, its
#     loss history begins with the fixture's, bit for bit, and its histograms
#     are zeros for the fixture's records and full for its own;
#   - resuming onto another BLAS thread count warns, onto the same one not.
. "$(dirname "$0")/lib.sh"
FIX=${GRADSCOPE_TESTS:-$(dirname "$0")}/fixtures
n=0
for ckpt in "$FIX"/ckpt_v*.h5; do
  [ -e "$ckpt" ] || continue
  n=$((n + 1))
  v=$(basename "$ckpt" .h5); v=${v#ckpt_v}
  ini="$FIX/ckpt_v$v.ini"
  "$GS" inspect "$ckpt" > "$WORK/inspect-$v.txt" 2>&1; rc=$?
  if [ $rc -eq 0 ] && grep -q "(format $v)" "$WORK/inspect-$v.txt"; then pass "inspect reads format $v"
  else fail "inspect of the format $v fixture: exit $rc: $(cat "$WORK/inspect-$v.txt")"; fi
  [ "$v" -ge 2 ] || grep -q "^built .*not recorded" "$WORK/inspect-$v.txt" \
    || fail "inspect of format $v does not say the provenance is not recorded: $(grep built "$WORK/inspect-$v.txt")"
  grep -q "^histograms  not recorded (format $v: " "$WORK/inspect-$v.txt" \
    || fail "inspect of format $v does not say it holds no histograms: $(grep histograms "$WORK/inspect-$v.txt")"

  "$GS" train "$ini" --set checkpoint.dir="$WORK/run$v" --set train.max_steps=8 --resume "$ckpt" \
    > "$WORK/train-$v.txt" 2>&1; rc=$?
  [ $rc -eq 0 ] && pass "train --resume from format $v" || fail "resume from format $v: exit $rc: $(tail -5 "$WORK/train-$v.txt")"
  last="$WORK/run$v/ckpt_00000008.h5"
  "$PY" - "$ckpt" "$last" <<'PYEOF' && pass "format $v resumed: history kept bit for bit, written as the current format" \
    || fail "the checkpoint resumed from format $v"
import sys, h5py, numpy as np
old, new = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
a, b = old["history/loss"][()], new["history/loss"][()]
assert b.shape == (8,), b.shape
assert np.array_equal(a.view(np.uint32), b[:a.shape[0]].view(np.uint32)), (a, b)
assert int(new.attrs["format_version"]) > int(old.attrs["format_version"])
assert len(new.attrs["blas_kernel"]) > 0 and int(new.attrs["blas_threads"]) >= 1
# (format 5) the histograms: none in the older file; the resumed run's
# records before the resume are zeros, its own sum to the layers' sizes
assert "grad_hist" not in old["history/stats"]
n_old = old["history/stats/step"].shape[0]
g, p = new["history/stats/grad_hist"][()], new["history/stats/preact_hist"][()]
assert g.shape == p.shape == (new["history/stats/step"].shape[0], len(new["model/layer_names"]), 54), g.shape
assert g.shape[0] > n_old and not g[:n_old].any() and not p[:n_old].any()
names = [n.decode() for n in new["model/layer_names"][()]]
size = [sum(new[f"model/{n}/{t}"].size for t in ("weight", "bias", "gamma", "beta") if t in new[f"model/{n}"]) for n in names]
assert (g[n_old:].sum(axis=2) == size).all(), (g[n_old:].sum(axis=2), size)
assert (p[n_old:].sum(axis=2) > 0).all()
PYEOF
done
[ $n -ge 1 ] || fail "no fixtures in $FIX"

# A resume onto another BLAS thread count warns (once, on stderr), since
# OpenBLAS splits GEMMs by thread; onto the same one it says nothing.
threads=$("$PY" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1], "r").attrs["blas_threads"]))' "$last")
for t in "$threads" $((threads + 1)); do
  cp -r "$WORK/run$v" "$WORK/again$t"
  "$GS" train "$ini" --set checkpoint.dir="$WORK/again$t" --set train.max_steps=10 --set train.blas_threads=$t \
    --resume auto > /dev/null 2> "$WORK/again$t.err"; rc=$?
  [ $rc -eq 0 ] || fail "resume with $t BLAS threads: exit $rc: $(cat "$WORK/again$t.err")"
  n_warn=$(grep -c "resume: warning: the checkpoint was written on OpenBLAS kernel .* x $threads threads*, this run is on .* x $t threads*;" "$WORK/again$t.err")
  if [ "$t" = "$threads" ]; then
    [ "$n_warn" -eq 0 ] && ! grep -q warning "$WORK/again$t.err" && pass "same threads on resume: no warning" \
      || fail "a resume on the same threads warns: $(cat "$WORK/again$t.err")"
  else
    [ "$n_warn" -eq 1 ] && pass "other threads on resume: one warning" \
      || fail "a resume from $threads onto $t threads does not warn once: $(cat "$WORK/again$t.err")"
  fi
done
finish
