# tests/lib.sh — shared helpers for gradscope's shell tests (sourced).
# Environment from CTest: GRADSCOPE_BIN, GRADSCOPE_MPIEXEC, GRADSCOPE_SRC,
# and the OMPI_* switches for root and oversubscription.
set -u
GS=${GRADSCOPE_BIN:?GRADSCOPE_BIN is not set (run through ctest)}
MPIEXEC=${GRADSCOPE_MPIEXEC:-mpirun}
PY=/usr/bin/python3
fails=0
WORK=$(mktemp -d /tmp/gradscope-test.XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }
finish() {
  if [ "$fails" -gt 0 ]; then echo "$fails failures"; exit 1; fi
  echo "all checks passed"; exit 0
}

# gs_mpi NP ARGS... : gradscope under mpirun with a hard deadline (never hang)
gs_mpi() {
  local np=$1; shift
  timeout -k 5 ${GS_TIMEOUT:-120} "$MPIEXEC" -np "$np" ${GS_MPI_FLAGS:-} "$GS" "$@"
}

# write_config FILE <<EOF ... EOF
write_config() { cat > "$1"; }

# weights_equal A.h5 B.h5 RTOL : every /model dataset equal within RTOL
# (0 = bitwise), read with h5py by the documented paths: weights, biases,
# and where a layer is normalized gamma, beta and the running statistics.
# The tolerance is normwise per tensor: ||a - b|| / ||b|| <= RTOL, but for
# the bias before a batch norm (no gradient, rounding only) against the
# layer's weight norm.
weights_equal() {
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import sys, h5py, numpy as np
a, b, rtol = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r"), float(sys.argv[3])
names = [n.decode() if isinstance(n, bytes) else n for n in a["/model/layer_names"][()]]
if not names:
    print("no layers to compare"); sys.exit(1)
worst = 0.0
for n in names:
    g = a[f"/model/{n}"]
    batch = "running_mean" in g
    for p in ("weight", "bias", "gamma", "beta", "running_mean", "running_var"):
        if p not in g:
            continue
        x, y = a[f"/model/{n}/{p}"][()], b[f"/model/{n}/{p}"][()]
        if x.shape != y.shape:
            print(f"{n}/{p}: shapes {x.shape} vs {y.shape}"); sys.exit(1)
        if rtol == 0:
            if not np.array_equal(x.view(np.uint32), y.view(np.uint32)):
                print(f"{n}/{p}: not bitwise equal (max diff {np.max(np.abs(x - y)):.3g})"); sys.exit(1)
        else:
            ref = b[f"/model/{n}/weight"][()] if (p == "bias" and batch) else y
            d = np.linalg.norm(x.astype(np.float64) - y) / (np.linalg.norm(ref.astype(np.float64)) + 1e-30)
            worst = max(worst, d)
print(f"largest normwise relative difference {worst:.3g} (tolerance {rtol:g})")
sys.exit(0 if worst <= rtol else 1)
PYEOF
}

# latest_ckpt DIR : path of the newest checkpoint
latest_ckpt() { echo "$1/$(cat "$1/latest")"; }

# stats_close A.h5 B.h5 RTOL : every /history/stats field within RTOL
# normwise (grad_mean, a near-cancelling sum, against the norm of grad_std);
# the histograms (counts, which rounding moves between neighbouring bins)
# are hist_close's
stats_close() {
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import sys, h5py, numpy as np
a, b, rtol = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r"), float(sys.argv[3])
bad, worst = 0, 0.0
if not np.array_equal(a["/history/stats/step"][()], b["/history/stats/step"][()]):
    print("records taken at different steps"); sys.exit(1)
if a["/history/stats/step"].shape[0] == 0:
    print("no statistics records to compare"); sys.exit(1)
for k in a["/history/stats"]:
    if k in ("step", "verdict", "grad_hist", "preact_hist"):
        continue
    x, y = a[f"/history/stats/{k}"][()].astype(np.float64), b[f"/history/stats/{k}"][()].astype(np.float64)
    ref = a["/history/stats/grad_std"][()] if k == "grad_mean" else y
    d = np.linalg.norm(x - y) / (np.linalg.norm(ref) + 1e-30)
    worst = max(worst, d)
    if d > rtol:
        print(f"/history/stats/{k}: normwise difference {d:.3g} > {rtol:g}"); bad += 1
va, vb = a["/history/stats/verdict"][()], b["/history/stats/verdict"][()]
if not np.array_equal(va, vb):
    print("verdicts differ:", va, vb); bad += 1
print(f"statistics: largest normwise difference {worst:.3g} (tolerance {rtol:g}), verdicts equal: {np.array_equal(va, vb)}")
sys.exit(1 if bad else 0)
PYEOF
}

# hist_close A.h5 B.h5 FRAC : the gradient and pre-activation histograms of
# every record have the same row sums, and the counts that differ are at
# most FRAC of all counts (sum |a - b| / 2 / sum a): rounding that differs
# between rank counts moves a value only across a bin edge it sits on
hist_close() {
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import sys, h5py, numpy as np
a, b, frac = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r"), float(sys.argv[3])
bad = 0
for k in ("grad_hist", "preact_hist"):
    x, y = a[f"/history/stats/{k}"][()], b[f"/history/stats/{k}"][()]
    if x.shape != y.shape or x.shape[0] == 0:
        print(f"{k}: shapes {x.shape} and {y.shape}"); bad += 1; continue
    if not np.array_equal(x.sum(axis=2), y.sum(axis=2)):
        print(f"{k}: row sums differ"); bad += 1
    moved = np.abs(x - y).sum() / 2 / max(x.sum(), 1)
    print(f"{k}: {moved:.3g} of the counts in another bin (tolerance {frac:g})")
    bad += moved > frac
sys.exit(1 if bad else 0)
PYEOF
}
