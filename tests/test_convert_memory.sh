#!/usr/bin/env bash
# Conversion streams: a ~300 MiB CSV and a ~300 MiB NPY convert, correctly,
# under an address-space limit (prlimit --as) of the process's own base plus
# 150 MiB. Neither the input nor the output's /X (float32, ~190 and ~300 MiB)
# fits in those 150 MiB, so a converter that held either whole would fail.
# The base is measured first: the smallest limit under which a tiny
# conversion of the same format succeeds. The outputs are checked against the
# blocks the inputs repeat.
. "$(dirname "$0")/lib.sh"
if ldd "$GS" | grep -q libasan; then
  echo "skip: ASan reserves terabytes of address space, so a limit cannot be set"; exit 77
fi
# One OpenBLAS thread: with more, OpenBLAS's worker allocates its buffer as it
# starts and, refused under a tight limit, spins instead of failing. The
# converters call no BLAS; the kernel (OPENBLAS_CORETYPE) stays as it is.
export OPENBLAS_NUM_THREADS=1
HEADROOM_MB=150
W=$WORK

# base_mb FORMAT ARGS... : the smallest --as limit (in MiB, to 2 MiB) under
# which `gradscope convert FORMAT ARGS...` succeeds
base_mb() {
  local lo=8 hi=1024 mid
  timeout 60 prlimit --as=$((hi << 20)) "$GS" convert "$@" > /dev/null 2>&1 || { echo 0; return; }
  while [ $((hi - lo)) -gt 2 ]; do
    mid=$(((lo + hi) / 2))
    if timeout 60 prlimit --as=$((mid << 20)) "$GS" convert "$@" > /dev/null 2>&1; then hi=$mid; else lo=$mid; fi
  done
  echo "$hi"
}

# under LABEL BASE_MB IN OUT ARGS... : convert under base + headroom; IN (the
# large input) and OUT's /X must both exceed the headroom
under() {
  local label=$1 base=$2 in=$3 out=$4; shift 4
  local limit=$(((base + HEADROOM_MB) << 20)) size=$(stat -c %s "$in")
  [ "$base" -gt 0 ] || { fail "$label: the tiny conversion failed even under 1 GiB"; return 1; }
  [ "$size" -gt $((2 * (HEADROOM_MB << 20))) ] || { fail "$label: input of $size bytes is not over twice the headroom"; return 1; }
  local start=$(date +%s)
  if ! msg=$(timeout 400 prlimit --as=$limit "$GS" convert "$@" 2>&1); then
    fail "$label: failed under --as=$((limit >> 20)) MiB (base $base + $HEADROOM_MB): $msg"; return 1
  fi
  local xbytes; xbytes=$("$PY" -c "import h5py; d = h5py.File('$out')['X']; print(d.size * d.dtype.itemsize)")
  [ "$xbytes" -gt $((HEADROOM_MB << 20)) ] || { fail "$label: /X of $xbytes bytes fits in the headroom"; return 1; }
  pass "$label: $((size >> 20)) MiB in, /X of $((xbytes >> 20)) MiB out, under --as=$((limit >> 20)) MiB (base $base + $HEADROOM_MB) in $(($(date +%s) - start)) s"
}

# The inputs repeat a block whose output is under deflate's 32 KiB window, so
# that compressing /X costs little: this test is about memory, not zlib.

# ---- CSV: a 500-row block repeated to ~300 MiB ----------------------------
"$PY" - "$W" <<'PYEOF'
import sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(2)
B = 500
X = rng.standard_normal((B, 8))
names = np.array(["cat", "dog", "bird, small", "fish", "ant"])
lab = names[rng.integers(0, 5, B)]
rows = "".join(",".join(f"{v:.3g}" for v in X[i]) + (f',"{lab[i]}"\n' if "," in lab[i] else f",{lab[i]}\n")
               for i in range(B)).encode()
head = (",".join(f"f{j}" for j in range(8)) + ",label\n").encode()
open(f"{w}/block.csv", "wb").write(head + rows)
reps = (300 << 20) // len(rows) + 1
with open(f"{w}/big.csv", "wb") as f:
    f.write(head)
    for _ in range(reps):
        f.write(rows)
open(f"{w}/reps", "w").write(str(reps))
PYEOF
base=$(base_mb csv "$W/block.csv" "$W/small.h5")
echo "base for convert csv: $base MiB"
if under "csv" "$base" "$W/big.csv" "$W/big_csv.h5" csv "$W/big.csv" "$W/big_csv.h5"; then
  "$PY" - "$W" <<'PYEOF' && pass "csv: every row of the output equals np.loadtxt's reading of its block" || fail "csv: output differs"
import sys, h5py, numpy as np
w = sys.argv[1]
reps = int(open(f"{w}/reps").read())
cells = np.loadtxt(f"{w}/block.csv", delimiter=",", quotechar='"', dtype=str, skiprows=1)
X = cells[:, :8].astype(np.float64).astype(np.float32)
names, y = np.unique(cells[:, 8], return_inverse=True)
B = X.shape[0]
with h5py.File(f"{w}/big_csv.h5", "r") as f:
    assert f["X"].shape == (reps * B, 8), f["X"].shape
    assert list(f["y"].attrs["classes"]) == list(names), f["y"].attrs["classes"]
    step = 400
    for r in range(0, reps, step):
        n = min(step, reps - r)
        gx = f["X"][r * B:(r + n) * B].reshape(n, B, 8)
        gy = f["y"][r * B:(r + n) * B].reshape(n, B)
        if not (gx == X).all() or not (gy == y).all():
            print(f"rows {r * B} to {(r + n) * B} differ"); sys.exit(1)
print(f"{reps * B} rows in {reps} blocks equal the block; classes {list(names)}")
PYEOF
fi
rm -f "$W/big.csv" "$W/big_csv.h5"

# ---- NPY: float32 [N, 8] of ~300 MiB, int64 labels ------------------------
"$PY" - "$W" <<'PYEOF'
import sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(4)
B = 512
block = rng.standard_normal((B, 8)).astype(np.float32)
reps = (300 << 20) // block.nbytes + 1
X = np.lib.format.open_memmap(f"{w}/X.npy", mode="w+", dtype=np.float32, shape=(reps * B, 8))
for r in range(reps):
    X[r * B:(r + 1) * B] = block
X.flush(); del X
np.save(f"{w}/y.npy", np.tile(np.arange(B) % 7, reps))
np.save(f"{w}/block.npy", block)
np.save(f"{w}/Xs.npy", block[:10]); np.save(f"{w}/ys.npy", np.arange(10))
open(f"{w}/reps", "w").write(str(reps))
PYEOF
base=$(base_mb npy "$W/Xs.npy" "$W/ys.npy" "$W/small.h5")
echo "base for convert npy: $base MiB"
if under "npy" "$base" "$W/X.npy" "$W/big_npy.h5" npy "$W/X.npy" "$W/y.npy" "$W/big_npy.h5"; then
  "$PY" - "$W" <<'PYEOF' && pass "npy: every row of the output equals its block" || fail "npy: output differs"
import sys, h5py, numpy as np
w = sys.argv[1]
reps = int(open(f"{w}/reps").read())
block = np.load(f"{w}/block.npy").astype(np.float32)
B = block.shape[0]
y = np.arange(B) % 7
with h5py.File(f"{w}/big_npy.h5", "r") as f:
    assert f["X"].shape == (reps * B, 8) and f["X"].dtype == np.float32, (f["X"].shape, f["X"].dtype)
    step = 800
    for r in range(0, reps, step):
        n = min(step, reps - r)
        if not (f["X"][r * B:(r + n) * B].reshape(n, B, 8) == block).all() \
           or not (f["y"][r * B:(r + n) * B].reshape(n, B) == y).all():
            print(f"rows {r * B} to {(r + n) * B} differ"); sys.exit(1)
print(f"{reps * B} rows in {reps} blocks equal the block")
PYEOF
fi
finish
