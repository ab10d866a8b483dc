#!/bin/bash
# test_inspect.sh — the checkpoint from outside: `gradscope inspect` (table,
# --json, exit 4 on a bad file), h5dump and h5py reading the documented
# paths, and jobs/plot_checkpoint.py writing a PNG.
#   $1: the test_ckpt_inspect program (writes the fixture with --make DIR)
set -u
MAKE=$1
BIN=${GRADSCOPE_BIN:?GRADSCOPE_BIN not set}
SRC=${GRADSCOPE_SRC:?GRADSCOPE_SRC not set}
T=$(mktemp -d /tmp/gs_inspect_sh.XXXXXX)
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

CKPT=$("$MAKE" --make "$T/run") || { echo "FAIL: could not make the fixture" >&2; exit 1; }

"$BIN" inspect "$CKPT" > "$T/out.txt" 2> "$T/err.txt"; rc=$?
[ $rc -eq 0 ] || fail "inspect exit $rc: $(cat "$T/err.txt")"
grep -q "verdict" "$T/out.txt" && grep -q "layer 0: vanishing" "$T/out.txt" || fail "table missing: $(cat "$T/out.txt")"

"$BIN" inspect "$CKPT" --json > "$T/out.json"; rc=$?
[ $rc -eq 0 ] || fail "inspect --json exit $rc"
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["layers"][0]["verdict"] == "vanishing", d' < "$T/out.json" \
  || fail "--json does not parse or lacks the verdict"
# the last record's histograms (the fixture: every parameter at 2^-10, every pre-activation at 2^6)
python3 -c '
import json, sys
h = json.load(sys.stdin)["histograms"]
assert h["bins"] == 54 and len(h["grad"]) == 4 and len(h["grad"][0]) == 54, h
assert h["grad"][0][32] == 20 * 6 + 20 and sum(h["grad"][0]) == 140 and h["preact"][3][48] == 32 * 3, h' < "$T/out.json" \
  || fail "--json lacks the last record's histograms: $(grep -o '"histograms".\{80\}' "$T/out.json")"
grep -q "^histograms  gradient and pre-activation" "$T/out.txt" || fail "inspect does not name the histograms"

# a run directory stands for its newest valid checkpoint
"$BIN" inspect "$(dirname "$CKPT")" > "$T/dir.txt" 2>&1 || fail "inspect RUN_DIR: $(cat "$T/dir.txt")"
grep -q "^file  *$CKPT" "$T/dir.txt" || fail "inspect RUN_DIR did not pick $CKPT: $(head -2 "$T/dir.txt")"
mkdir -p "$T/empty"
"$BIN" inspect "$T/empty" > /dev/null 2>&1; rc=$?
[ $rc -eq 4 ] || fail "a directory without checkpoints: exit $rc, want 4"

head -c 2000 "$CKPT" > "$T/cut.h5"
"$BIN" inspect "$T/cut.h5" > /dev/null 2> "$T/err.txt"; rc=$?
[ $rc -eq 4 ] || fail "truncated file: exit $rc, want 4"
grep -q "cut.h5" "$T/err.txt" || fail "no message naming the file: $(cat "$T/err.txt")"
"$BIN" inspect > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "no argument: exit $rc, want 2"

if command -v h5dump > /dev/null; then
  h5dump -H "$CKPT" > "$T/dump.txt" 2>&1 || fail "h5dump -H failed: $(head -5 "$T/dump.txt")"
  grep -q 'DATASET "/model/layer_000/weight"\|DATASET "weight"' "$T/dump.txt" || fail "h5dump does not show the weights"
  h5dump -d /config "$CKPT" > /dev/null 2>&1 || fail "h5dump -d /config failed"
fi

/usr/bin/python3 - "$CKPT" <<'PY' || fail "h5py cannot read the documented layout"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["format"] == b"gradscope-checkpoint", f.attrs["format"]
assert int(f.attrs["format_version"]) == 5
for k in ("blas_kernel", "blas_config", "cpu_model", "compiler", "build_type"):
    assert len(f.attrs[k]) > 0, k
assert int(f.attrs["blas_threads"]) >= 1
assert f.attrs["seed"].dtype == np.uint64
L = f["model/layer_names"].shape[0]
for l in range(L):
    n = "layer_%03d" % l
    assert f["model/layer_names"][l] == n.encode()
    w, b = f["model/%s/weight" % n], f["model/%s/bias" % n]
    assert w.dtype == np.float32 and w.ndim == 2 and b.shape == (w.shape[0],)
    assert w.fletcher32 and w.chunks
    assert f["optimizer/momentum/%s/weight" % n].shape == w.shape
    assert w.attrs["activation"] in (b"sigmoid", b"relu", b"identity")
n_rec = f["history/stats/step"].shape[0]
for k in ["grad_norm", "grad_mean", "grad_std", "grad_absmax", "bias_grad_norm", "weight_norm", "update_ratio",
          "act_mean", "act_std", "saturated_fraction", "dead_fraction", "ratio_to_last"]:
    assert f["history/stats/" + k].shape == (n_rec, L), k
assert f["history/stats/verdict"][0] == b"vanishing"
# format 4: every step's accuracy and learning rate, every record's verdicts,
# the input audit, the doctor's repairs
n_steps = f["history/loss"].shape[0]
assert f["history/accuracy"].shape == (n_steps,) and f["history/lr"].shape == (n_steps,)
assert f["history/verdicts"].shape == (n_rec, L)
assert (f["history/verdicts"][-1] == f["history/stats/verdict"][()]).all()
D = f["input_audit/feature_mean"].shape[0]
assert f["input_audit/rows"][0] > 0 and D > 0
assert all(f["input_audit/feature_" + k].shape == (D,) for k in ("std", "min", "max"))
assert f["doctor/repairs/step"].shape == (0,) and f["doctor/repairs/remedy"].shape == (0,)
assert "[model]" in f["config"][0].decode()
assert f["state/step"][0] == f.attrs["step"] == 120
# format 4: the validation split's evaluations beside the test set's
n_eval = f["history/eval/step"].shape[0]
assert f["history/eval/validation_loss"].shape == (n_eval,) and f["history/eval/validation_accuracy"].shape == (n_eval,)
# format 5: each record's gradient and pre-activation histograms, with their bins
for k in ("grad_hist", "preact_hist"):
    h = f["history/stats/" + k]
    assert h.dtype == np.int64 and h.shape == (n_rec, L, 54) and h.fletcher32, (k, h.dtype, h.shape)
    assert np.array_equal(h.attrs["bin_edges"], 2.0 ** np.arange(-40, 11)) and b"54 bins" in h.attrs["bins"]
PY

/usr/bin/python3 "$SRC/jobs/plot_checkpoint.py" "$CKPT" -o "$T/plot.png" > /dev/null 2> "$T/err.txt" \
  || fail "plot_checkpoint.py failed: $(cat "$T/err.txt")"
[ "$(head -c 4 "$T/plot.png" | tail -c 3)" = "PNG" ] || fail "plot is not a PNG"
/usr/bin/python3 "$SRC/jobs/plot_checkpoint.py" "$T/cut.h5" -o "$T/bad.png" > /dev/null 2>&1
[ $? -eq 4 ] || fail "plot of a bad file should exit 4"

# the plot of a run directory: its newest checkpoint; every legend above its
# panel, clear of the curves; a non-finite loss neither crashes it nor
# squashes the axis; a directory that is no run is one clear line, exit 4
cp "$CKPT" "$T/run/inf.h5"
/usr/bin/python3 - "$SRC/jobs" "$T/run" "$T/run/inf.h5" "$T/dir.png" <<'PY' || fail "plot of a run directory"
import sys, h5py, numpy as np
sys.path.insert(0, sys.argv[1])
import plot_checkpoint as pc, gradscope_ckpt as gc
with h5py.File(sys.argv[3], "r+") as f:      # one loss overflowed, one NaN
    f["history/loss"][3] = np.inf
    f["history/loss"][4] = np.nan
for path in (sys.argv[2], sys.argv[3]):
    fig = pc.plot(gc.read(path), sys.argv[4])
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        lb, ab = leg.get_window_extent(r), ax.get_window_extent(r)
        assert lb.y0 >= ab.y1 - 1, ("a legend covers its panel", path, lb, ab)
    lo, hi = fig.axes[0].get_ylim()
    assert np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi < 100, ("loss axis", path, lo, hi)
print("legends above their panels; loss axis finite")
PY
/usr/bin/python3 "$SRC/jobs/plot_checkpoint.py" "$T/run" > /dev/null 2> "$T/err.txt" && [ -s "$T/run/plot.png" ] \
  || fail "plot_checkpoint.py RUN_DIR: $(cat "$T/err.txt")"
/usr/bin/python3 "$SRC/jobs/plot_checkpoint.py" "$T/empty" > /dev/null 2> "$T/err.txt"; rc=$?
[ $rc -eq 4 ] && grep -q "is not a gradscope run directory" "$T/err.txt" && [ "$(wc -l < "$T/err.txt")" -eq 1 ] \
  || fail "plot of a directory that is no run: exit $rc: $(cat "$T/err.txt")"

if [ $fails -eq 0 ]; then rm -rf "$T"; echo "test_inspect.sh: ok"; else echo "test_inspect.sh: $fails failure(s), files in $T" >&2; fi
[ $fails -eq 0 ]
