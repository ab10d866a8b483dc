#!/usr/bin/env bash
# `gradscope convert npy` and `convert npz`: arrays written by numpy itself
# (np.save, np.lib.format.write_array at format versions 1.0, 2.0 and 3.0,
# np.savez stored, np.savez_compressed deflated) convert to /X and /y equal
# to np.load's reading of the same files: every dtype for X (uint8 and bool
# stay uint8, the rest become float32 as numpy's astype rounds) and for Y
# (integers keep their dtype, floats become float32 targets [N, 1] or
# [N, K]); X of more than 2 dimensions flattened to [N, D]; Fortran order
# where it is the same layout as C order. Then `gradscope train` runs a few
# steps on two of the outputs.
. "$(dirname "$0")/lib.sh"

"$PY" - "$WORK" <<'PYEOF'
import sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(11)
N = 300
base = rng.integers(-2**20, 2**20, size=(N, 6))
for dt in ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"]:
    if dt.startswith("float"):
        X = (rng.standard_normal((N, 6)) * 1e3).astype(dt)
    elif dt == "bool":
        X = base % 2 == 0
    else:
        info = np.iinfo(dt)
        big = base * 2**19 if dt in ("int64", "uint64") else base  # past 2^24: float32 rounds
        X = np.clip(big, max(int(info.min), -2**62), min(int(info.max), 2**62)).astype(dt)
    np.save(f"{w}/X_{dt}.npy", X)
    np.save(f"{w}/y_{dt}.npy", X[:, 0] if dt == "bool" else np.abs(X[:, 0]).astype(dt))
np.save(f"{w}/X_3d.npy", rng.integers(0, 256, size=(N, 4, 5)).astype(np.uint8))
np.save(f"{w}/y_2d.npy", rng.standard_normal((N, 3)))
np.save(f"{w}/y_col.npy", rng.integers(0, 3, size=(N, 1)).astype(np.int32))
for v in [(1, 0), (2, 0), (3, 0)]:
    with open(f"{w}/X_v{v[0]}.npy", "wb") as f:
        np.lib.format.write_array(f, np.load(f"{w}/X_float64.npy"), version=v)
# fortran_order True where the layout is C order all the same: [N] and [N, 1]
for name, a in [("y_f1", np.arange(N, dtype=np.int32) % 4), ("y_fcol", (np.arange(N, dtype=np.int64) % 4)[:, None])]:
    with open(f"{w}/{name}.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": a.dtype.str, "fortran_order": True, "shape": a.shape})
        f.write(a.tobytes())
X = np.load(f"{w}/X_float32.npy"); y = np.load(f"{w}/y_int16.npy")
np.savez(f"{w}/stored.npz", X=X, y=y)
np.savez_compressed(f"{w}/deflated.npz", x=np.load(f"{w}/X_3d.npy"), Y=np.load(f"{w}/y_2d.npy"))
np.savez_compressed(f"{w}/named.npz", images=X, labels=y, other=np.zeros(3))
PYEOF

# check OUT.h5 XSRC YSRC : /X and /y against np.load's reading of the sources
# (a source is FILE.npy or FILE.npz:NAME)
check() {
  "$PY" - "$@" <<'PYEOF'
import sys, h5py, numpy as np
out, xs, ys = sys.argv[1:4]
def load(s):
    if ":" in s:
        path, name = s.split(":")
        return np.load(path)[name]
    return np.load(s)
X, Y = load(xs), load(ys)
N = X.shape[0]
Xw = X.reshape(N, -1)
Xw = Xw.astype(np.uint8) if X.dtype in (np.uint8, np.bool_) else Xw.astype(np.float32)
Yw = Y if Y.dtype.kind in "iub" else Y.astype(np.float32).reshape(N, -1)
Yw = Yw.astype(np.uint8) if Y.dtype == np.bool_ else Yw
bad = []
with h5py.File(out, "r") as f:
    for name, got, want in [("X", f["X"], Xw), ("y", f["y"], Yw)]:
        if got.dtype != want.dtype or got.shape != want.shape:
            bad.append(f"/{name} is {got.dtype} {got.shape}, expected {want.dtype} {want.shape}")
        elif not np.array_equal(got[()], want):
            bad.append(f"/{name} differs from np.load in {np.sum(got[()] != want)} elements")
for b in bad:
    print(b)
print(f"X {X.dtype} {X.shape} -> {Xw.dtype} {Xw.shape}, Y {Y.dtype} {Y.shape} -> {Yw.dtype} {Yw.shape}: "
      + ("equal to np.load" if not bad else "DIFFERENT"))
sys.exit(1 if bad else 0)
PYEOF
}

# case LABEL OUT XSRC YSRC -- convert args... : convert, then check
case_() {
  local label=$1 out=$2 xs=$3 ys=$4; shift 5
  if ! msg=$("$GS" convert "$@" 2>&1); then fail "$label: convert failed: $msg"; return; fi
  [ -e "$out.tmp" ] && fail "$label: $out.tmp left behind"
  check "$out" "$xs" "$ys" && pass "$label" || fail "$label: see above"
}

W=$WORK
for dt in float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 bool; do
  case_ "npy: X and Y of $dt" "$W/o_$dt.h5" "$W/X_$dt.npy" "$W/y_$dt.npy" -- npy "$W/X_$dt.npy" "$W/y_$dt.npy" "$W/o_$dt.h5"
done
for v in 1 2 3; do
  case_ "npy: format version $v.0" "$W/o_v$v.h5" "$W/X_v$v.npy" "$W/y_int64.npy" -- npy "$W/X_v$v.npy" "$W/y_int64.npy" "$W/o_v$v.h5"
done
case_ "npy: X [N, 4, 5] flattens to [N, 20]; Y float [N, 3] stays [N, 3]" "$W/o_3d.h5" "$W/X_3d.npy" "$W/y_2d.npy" \
  -- npy "$W/X_3d.npy" "$W/y_2d.npy" "$W/o_3d.h5"
case_ "npy: integer Y [N, 1] stays [N, 1]" "$W/o_col.h5" "$W/X_float32.npy" "$W/y_col.npy" \
  -- npy "$W/X_float32.npy" "$W/y_col.npy" "$W/o_col.h5"
case_ "npy: fortran_order True on [N] is C order" "$W/o_f1.h5" "$W/X_float32.npy" "$W/y_f1.npy" \
  -- npy "$W/X_float32.npy" "$W/y_f1.npy" "$W/o_f1.h5"
case_ "npy: fortran_order True on [N, 1] is C order" "$W/o_fcol.h5" "$W/X_float32.npy" "$W/y_fcol.npy" \
  -- npy "$W/X_float32.npy" "$W/y_fcol.npy" "$W/o_fcol.h5"
case_ "npz stored (np.savez): X and y" "$W/o_st.h5" "$W/stored.npz:X" "$W/stored.npz:y" -- npz "$W/stored.npz" "$W/o_st.h5"
case_ "npz deflated (np.savez_compressed): x and Y" "$W/o_df.h5" "$W/deflated.npz:x" "$W/deflated.npz:Y" \
  -- npz "$W/deflated.npz" "$W/o_df.h5"
case_ "npz --x images --y labels" "$W/o_nm.h5" "$W/named.npz:images" "$W/named.npz:labels" \
  -- npz "$W/named.npz" "$W/o_nm.h5" --x images --y labels
"$PY" -c "
import h5py, sys
a = dict(h5py.File('$W/o_df.h5').attrs)
sys.exit(0 if a['x_array'] == b'x' and a['y_array'] == b'Y' and a['format'] == b'gradscope-input' else 1)" \
  && pass "npz: the arrays used are recorded (x_array, y_array)" || fail "npz attributes"

# the outputs train: uint8 images with int16 labels (softmax), float targets (linear)
"$PY" -c "
import numpy as np
np.save('$W/y_cls.npy', (np.arange(300) % 5).astype(np.int16))"
"$GS" convert npy "$W/X_3d.npy" "$W/y_cls.npy" "$W/img.h5" > /dev/null || fail "convert X_3d + y_cls"
printf '[model]\nlayers = 20, 16, 5\n[data]\nsynthetic = none\ntrain = %s\nscale = 0.00392156862745098\n[train]\nepochs = 1\nmax_steps = 6\nbatch_size = 32\nlog_every = 1\n[checkpoint]\ndir =\n' \
  "$W/img.h5" > "$W/img.ini"
out=$(gs_mpi 2 train "$W/img.ini" 2>&1) && echo "$out" | grep -q "done: 6 steps" \
  && pass "2 ranks train 6 steps on uint8 X [N, 20] and int16 labels" || fail "training on img.h5: $(echo "$out" | tail -3)"
printf '[model]\nlayers = 20, 8, 3\noutput = linear\n[data]\nsynthetic = none\ntrain = %s\nscale = 0.00392156862745098\n[train]\nepochs = 1\nmax_steps = 5\nbatch_size = 32\nlog_every = 1\n[checkpoint]\ndir =\n' \
  "$W/o_df.h5" > "$W/reg.ini"
out=$("$GS" train "$W/reg.ini" 2>&1) && echo "$out" | grep -q "done: 5 steps" \
  && pass "1 rank trains 5 steps on the npz's float targets [N, 3]" || fail "training on o_df.h5: $(echo "$out" | tail -3)"
finish
