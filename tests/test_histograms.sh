#!/usr/bin/env bash
# The gradient and pre-activation histograms of the statistics records
# (docs/statistics.md), merged over the ranks, end to end:
#   - at 1, 2, 3 and 4 ranks with the sharded optimizer (shared memory), at
#     3 as a ring of messages (GRADSCOPE_SHARED_MEMORY=0), at 2 and 3
#     replicated (shard = false): every grad_hist row sums to the layer's
#     parameter count (W, b, gamma, beta, read from the checkpoint's model)
#     and every preact_hist row to the global batch's rows x n_out (the
#     epoch's short last batch included); against 1 rank, at most 1e-3 of
#     the counts sit in another bin;
#   - [train] reproducible = true: the histograms of 1-4 ranks bit for bit;
#   - the counts agree with the statistics recorded beside them: the
#     layer's gradient sum of squares (grad, bias, gamma and beta norms)
#     lies between sum count x lower edge^2 and sum count x upper edge^2,
#     the bin of grad_absmax is not empty and no count lies above the
#     layer's gradient norm; the logits' sum of squares (act_mean, act_std
#     of the linear last layer) lies within the pre-activation bins' bounds,
#     and a tanh layer's saturated units (|y| > 2.18) number at least its
#     pre-activations from 4 up and at most those from 2 up;
#   - [stats] histograms = false: no histogram datasets, and inspect says so;
#   - a damaged histogram dataset (wrong shape, one without the other, a
#     negative count): one clear error from inspect and from the Python reader.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/h.ini" <<INI
[model]
layers = 10, 48, 32, 32, 4
activation = tanh
init = xavier_normal
norm = batch, layer, none
[data]
synthetic = teacher
n_train = 1090
n_test = 0
[train]
epochs = 2
max_steps = 24
batch_size = 50
seed = 5
log_every = 100
[optimizer]
lr = 0.05
momentum = 0.9
[checkpoint]
dir = $WORK/run
[stats]
every_steps = 3
INI
# run NAME NP [ARGS]: train, keep the final checkpoint as $WORK/NAME.h5
run() {
  local name=$1 np=$2
  shift 2
  rm -rf "$WORK/run"
  gs_mpi "$np" train "$WORK/h.ini" "$@" > "$WORK/$name.log" 2>&1 || { fail "$name: $(grep -m1 gradscope: "$WORK/$name.log")"; return 1; }
  cp "$(latest_ckpt "$WORK/run")" "$WORK/$name.h5"
}

# sums NAME.h5 : every row's sum, and the counts against the statistics
sums() {
  "$PY" - "$1" <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
g, p = f["/history/stats/grad_hist"][()], f["/history/stats/preact_hist"][()]
steps = f["/history/stats/step"][()]
names = [n.decode() for n in f["/model/layer_names"][()]]
n_par = [sum(f[f"/model/{n}/{t}"].size for t in ("weight", "bias", "gamma", "beta") if t in f[f"/model/{n}"]) for n in names]
n_out = [f[f"/model/{n}/weight"].shape[0] for n in names]
N, B = 1090, 50
rows = [N - s % (N // B + 1) * B if s % (N // B + 1) == N // B else B for s in steps]  # 21 batches of 50, then 40
bad = 0
if g.shape != (len(steps), len(names), 54) or p.shape != g.shape:
    print("shapes", g.shape, p.shape); sys.exit(1)
for r in range(len(steps)):
    for l in range(len(names)):
        if g[r, l].sum() != n_par[l]:
            print(f"step {steps[r]} layer {l}: grad_hist sums to {g[r, l].sum()}, the layer has {n_par[l]} parameters"); bad += 1
        if p[r, l].sum() != rows[r] * n_out[l]:
            print(f"step {steps[r]} layer {l}: preact_hist sums to {p[r, l].sum()}, expected {rows[r]} x {n_out[l]}"); bad += 1
if 40 not in rows:
    print("no record of the epoch's short last batch"); bad += 1
# the bins' bounds: bin 1 is (0, 2^-40), bin 2+j [2^(j-40), 2^(j-39)), bin 52 [2^10, inf)
lo = np.zeros(54); hi = np.zeros(54)
lo[2:53] = 2.0 ** np.arange(-40, 11); hi[1] = 2.0 ** -40; hi[2:52] = 2.0 ** np.arange(-39, 11); hi[52] = np.inf
st = {k: f[f"/history/stats/{k}"][()].astype(np.float64) for k in
      ("grad_norm", "bias_grad_norm", "gamma_grad_norm", "beta_grad_norm", "grad_absmax", "act_mean", "act_std")}
def within(c, sq, what, tol=1e-5):
    global bad
    low = (c * lo ** 2).sum()
    high = (c * np.where(c > 0, hi, 0.0) ** 2).sum()
    if not (low <= sq * (1 + tol) and sq <= high * (1 + tol)):
        print(f"{what}: sum of squares {sq:.6g} outside the bins' [{low:.6g}, {high:.6g}]"); bad += 1
tested_sat = False
for r in range(len(steps)):
    for l in range(len(names)):
        sq = sum(st[k][r, l] ** 2 for k in ("grad_norm", "bias_grad_norm", "gamma_grad_norm", "beta_grad_norm"))
        within(g[r, l], sq, f"step {steps[r]} layer {l} gradient")
        top = np.nonzero(g[r, l])[0].max()
        if lo[top] > np.sqrt(sq) * (1 + 1e-5):
            print(f"step {steps[r]} layer {l}: a count in bin {top} (from {lo[top]:g}) above the norm {np.sqrt(sq):g}"); bad += 1
        amax = np.float32(st["grad_absmax"][r, l])
        b = 0 if amax == 0 else 1 if amax < 2.0 ** -40 else 52 if amax >= 1024 else 2 + int(np.floor(np.log2(amax))) + 40
        if g[r, l, b] < 1:
            print(f"step {steps[r]} layer {l}: grad_absmax {amax:g} but its bin {b} is empty"); bad += 1
    L, n = len(names) - 1, rows[r] * n_out[-1]
    within(p[r, L], n * (st["act_std"][r, L] ** 2 + st["act_mean"][r, L] ** 2), f"step {steps[r]} logits", 1e-4)
    # a tanh unit is saturated where 1 - tanh(y)^2 < 0.05, |y| > 2.18: at least
    # the counts from 2^2 up, at most those from 2^1 up
    for l in range(L):
        n_sat = round(float(f["/history/stats/saturated_fraction"][r, l]) * rows[r] * n_out[l])
        above2, above4 = p[r, l, 43:].sum(), p[r, l, 44:].sum()
        if not above4 <= n_sat <= above2:
            print(f"step {steps[r]} layer {l}: {n_sat} saturated units, but {above4} pre-activations >= 4 and {above2} >= 2"); bad += 1
        tested_sat = n_sat > 0 or tested_sat
if not tested_sat:
    print("no saturated unit: the saturation check tested nothing"); bad += 1
print(f"{len(steps)} records x {len(names)} layers: row sums and bounds {'hold' if not bad else 'FAIL'}")
sys.exit(1 if bad else 0)
PYEOF
}

run np1 1 || finish
out=$(sums "$WORK/np1.h5") && pass "1 rank: $out" || fail "1 rank: $out"
for c in "np2 2" "np3 3" "np4 4" "ring3 3" "rep2 2 --set optimizer.shard=false" "rep3 3 --set optimizer.shard=false"; do
  set -- $c
  name=$1
  if [ "$name" = ring3 ]; then GRADSCOPE_SHARED_MEMORY=0 run "$@" || continue; else run "$@" || continue; fi
  case $name in
    ring3) grep -q "ring of messages" "$WORK/$name.log" || fail "ring3 did not use the ring" ;;
    rep*) grep -q "optimizer replicated" "$WORK/$name.log" || fail "$name did not replicate the optimizer" ;;
    np[234]) grep -q "through shared memory" "$WORK/$name.log" || fail "$name did not shard through shared memory" ;;
  esac
  out=$(sums "$WORK/$name.h5") && pass "$name: $out" || fail "$name: $out"
  out=$(hist_close "$WORK/np1.h5" "$WORK/$name.h5" 1e-3) && pass "$name against 1 rank: $(echo $out)" \
    || fail "$name against 1 rank: $out"
done

# reproducible: the same bits at every rank count
for np in 1 2 3 4; do run "repro$np" "$np" --set train.reproducible=true --set train.reproducible_groups=5 || continue; done
out=$(sums "$WORK/repro1.h5") && pass "reproducible, 1 rank: $out" || fail "reproducible: $out"
for np in 2 3 4; do
  "$PY" - "$WORK/repro1.h5" "$WORK/repro$np.h5" <<'PYEOF' && pass "reproducible: $np ranks' histograms equal 1 rank's, bit for bit" \
    || fail "reproducible: $np ranks' histograms differ from 1 rank's"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for k in ("grad_hist", "preact_hist"):
    x, y = a[f"/history/stats/{k}"][()], b[f"/history/stats/{k}"][()]
    assert x.shape == y.shape and x.shape[0] > 0 and np.array_equal(x, y), (k, x.shape, y.shape, np.abs(x - y).sum())
PYEOF
done

# off: no datasets, and inspect says so
run off 1 --set stats.histograms=false || finish
"$PY" -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r"); sys.exit(any(k in f["/history/stats"] for k in ("grad_hist", "preact_hist")))' "$WORK/off.h5" \
  && pass "histograms = false: no histogram datasets" || fail "histograms = false wrote histograms"
"$GS" inspect "$WORK/off.h5" | grep -q "^histograms  none recorded" && pass "inspect: none recorded" \
  || fail "inspect of a run without histograms: $("$GS" inspect "$WORK/off.h5" | grep histograms)"
"$GS" inspect "$WORK/np1.h5" | grep -q "^histograms  gradient and pre-activation" && pass "inspect names the histograms" \
  || fail "inspect of a run with histograms: $("$GS" inspect "$WORK/np1.h5" | grep histograms)"

# damaged: a wrong shape, one dataset without the other, a negative count
for how in shape alone negative; do
  cp "$WORK/np1.h5" "$WORK/bad-$how.h5"
  "$PY" - "$WORK/bad-$how.h5" "$how" <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r+")
g = f["/history/stats/grad_hist"]
data = g[()]
if sys.argv[2] == "shape":
    del f["/history/stats/grad_hist"]
    f.create_dataset("/history/stats/grad_hist", data=data[:, :, :53], maxshape=(None, None, 53))
elif sys.argv[2] == "alone":
    del f["/history/stats/preact_hist"]
else:
    data[1, 2, 30] = -3
    g[...] = data
PYEOF
  out=$("$GS" inspect "$WORK/bad-$how.h5" 2>&1); rc=$?
  want=$(case $how in shape) echo "grad_hist is \[\([0-9]*\), 4, 53\], expected \[\1, 4, 54\] (records, layers, bins)" ;;
                      alone) echo "grad_hist is there but /history/stats/preact_hist is not" ;;
                      negative) echo "grad_hist\[1, 2, 30\] is -3; a count is never negative" ;; esac)
  [ $rc -eq 4 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q "bad-$how.h5: /history/stats/$want" \
    && pass "damaged ($how): $out" || fail "inspect of a damaged histogram ($how): exit $rc: $out"
done
"$PY" -c "
import sys; sys.path.insert(0, '$GRADSCOPE_SRC/jobs')
import gradscope_ckpt as gc
try:
    gc.read('$WORK/bad-shape.h5')
except gc.CheckpointError as e:
    print(e); sys.exit('expected' not in str(e))
sys.exit(1)" > "$WORK/py.txt" 2>&1 && pass "gradscope_ckpt.py: $(cat "$WORK/py.txt")" || fail "gradscope_ckpt.py read a damaged histogram: $(cat "$WORK/py.txt")"
finish
