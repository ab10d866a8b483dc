#!/usr/bin/env bash
# relu + normal(1) on a 20-layer net explodes: with on_nonfinite = stop the
# run ends cleanly with exit 5, a message naming the step and the first
# non-finite layer, an incident record (nonfinite_*.h5) that inspect reads
# as exploding/nonfinite, and the last good checkpoint untouched; with
# on_nonfinite = skip it finishes, skipping the bad updates.
. "$(dirname "$0")/lib.sh"
layers="16$(printf ', 128%.0s' $(seq 19)), 4"
write_config "$WORK/x.ini" <<INI
[model]
layers = $layers
activation = relu
init = normal
init_std = 1.0
[data]
synthetic = teacher
n_train = 256
n_test = 0
[train]
epochs = 1
max_steps = 6
batch_size = 64
log_every = 1
[optimizer]
lr = 0.1
momentum = 0
[checkpoint]
dir = $WORK/run
every_steps = 1
[stats]
every_steps = 1
INI
gs_mpi 2 train "$WORK/x.ini" > "$WORK/stop.log" 2>&1; rc=$?
tail -4 "$WORK/stop.log"
[ $rc -eq 5 ] && pass "exit 5 on a non-finite step" || fail "exit $rc, expected 5"
grep -qE "step [0-9]+: the (loss|gradient) went non-finite \(first non-finite layer gradient: layer [0-9]+" "$WORK/stop.log" \
  && pass "message names the step and layer" || fail "no message naming step and layer"
inc=$(ls "$WORK"/run/nonfinite_*.h5 2>/dev/null | head -1)
[ -n "$inc" ] && pass "incident record $(basename "$inc")" || fail "no incident record"
# (the layers' verdicts, not the file name, which says nonfinite too)
[ -n "$inc" ] && { "$GS" inspect "$inc" --json > "$WORK/inc.json" && grep -qE '"verdict": "(exploding|nonfinite)"' "$WORK/inc.json" \
  && pass "inspect shows the explosion" || fail "inspect shows no explosion"; }
good=$(latest_ckpt "$WORK/run")
"$GS" inspect "$good" > /dev/null && pass "last good checkpoint $(basename "$good") still valid" || fail "latest checkpoint damaged"
"$PY" -c "import h5py,numpy as np,sys; f=h5py.File('$good'); sys.exit(0 if all(np.isfinite(f['model/'+n.decode()+'/weight'][()]).all() for n in f['model/layer_names'][()]) else 1)" \
  && pass "latest holds finite weights" || fail "latest holds non-finite weights"
gs_mpi 2 train "$WORK/x.ini" --set train.on_nonfinite=skip --set "checkpoint.dir=$WORK/skip" > "$WORK/skip.log" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "update skipped" "$WORK/skip.log" && pass "on_nonfinite = skip finishes and says what it skipped" \
  || { tail -3 "$WORK/skip.log"; fail "skip policy: exit $rc"; }
# The sharded optimizer on steps without statistics: the ranks hold only
# their ranges of the reduced gradient, so a non-finite step must gather
# the whole of it before its statistics name the layers. Its records must
# match the replicated optimizer's (finite where they are finite, and close).
for sh in true false; do
  gs_mpi 2 train "$WORK/x.ini" --set train.on_nonfinite=skip --set stats.every_steps=4 \
    --set optimizer.shard=$sh --set "checkpoint.dir=$WORK/skip_$sh" > "$WORK/skip_$sh.log" 2>&1 \
    || { tail -3 "$WORK/skip_$sh.log"; fail "skip with shard = $sh: exit $?"; }
done
"$PY" - "$(latest_ckpt "$WORK/skip_true")" "$(latest_ckpt "$WORK/skip_false")" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
sa, sb = a["/history/stats/step"][()], b["/history/stats/step"][()]
print("records at steps", list(sa), "and", list(sb))
if not np.array_equal(sa, sb) or not any(s % 4 for s in sa):
    print("expected the same records, some of them between every_steps = 4"); sys.exit(1)
for k in ("grad_norm", "grad_absmax", "bias_grad_norm"):
    x, y = a[f"/history/stats/{k}"][()].astype(np.float64), b[f"/history/stats/{k}"][()].astype(np.float64)
    fx, fy = np.isfinite(x), np.isfinite(y)
    if not np.array_equal(fx, fy) or not fx.any():
        print(f"{k}: finite in different places"); sys.exit(1)
    d = np.max(np.abs(x[fx] - y[fx]) / (np.abs(y[fx]) + 1e-30))
    print(f"{k}: {fx.sum()} finite values, largest relative difference {d:.3g}")
    if d > 1e-4:
        sys.exit(1)
# a record forced between the regular ones measured no activations: 0, not an earlier record's
for f in (a, b):
    forced = f["/history/stats/step"][()] % 4 != 0
    for k in ("act_mean", "act_std", "saturated_fraction", "dead_fraction"):
        v = f[f"/history/stats/{k}"][()]
        if np.any(v[forced] != 0) or not np.any(v[~forced] != 0) and k == "act_std":
            print(f"{k}: forced records {v[forced].tolist()}, regular {v[~forced].tolist()}"); sys.exit(1)
print("forced records: activation fields 0; regular ones measured")
# and their histograms: the gradient's, every parameter once (the sharded
# optimizer's gathered gradient too), its non-finite values in bin 53; no
# pre-activations (zeros), where the regular records count the whole batch
for f in (a, b):
    forced = f["/history/stats/step"][()] % 4 != 0
    g, p = f["/history/stats/grad_hist"][()], f["/history/stats/preact_hist"][()]
    names = [n.decode() for n in f["/model/layer_names"][()]]
    size = [f[f"/model/{n}/weight"].size + f[f"/model/{n}/bias"].size for n in names]
    n_out = [f[f"/model/{n}/weight"].shape[0] for n in names]
    if not (g.sum(axis=2) == size).all():
        print("grad_hist rows", g.sum(axis=2).tolist(), "layer sizes", size); sys.exit(1)
    if p[forced].any() or not (p[~forced].sum(axis=2) == np.array(n_out) * 64).all():
        print("preact_hist rows: forced", p[forced].sum(axis=2).tolist(), "regular", p[~forced].sum(axis=2).tolist()); sys.exit(1)
    if not g[forced][:, :, 53].any():
        print("no non-finite gradient counted in a forced record"); sys.exit(1)
print("forced records: gradient histograms whole, non-finite values counted; pre-activation histograms 0")
PYEOF
[ $? -eq 0 ] && pass "sharded and replicated record the same statistics on non-finite steps between records" \
  || fail "sharded statistics of non-finite steps differ from the replicated ones"
# An update that overflows the weights while the gradient is finite (lr beyond float's range):
# the checkpoint of that step is refused, and the run ends as a non-finite step does (exit 5,
# an incident record), whatever on_nonfinite says; it used to exit 4 with no record
gs_mpi 2 train "$WORK/x.ini" --set "model.layers=8, 16, 3" --set model.init=xavier_normal --set optimizer.lr=1e39 \
  --set train.on_nonfinite=skip --set "checkpoint.dir=$WORK/ovf" > "$WORK/ovf.log" 2>&1; rc=$?
if [ $rc -eq 5 ] && grep -q "refusing to write a checkpoint at step 1: parameters" "$WORK/ovf.log" \
   && grep -q "incident record written to $WORK/ovf/nonfinite_00000001.h5" "$WORK/ovf.log" \
   && "$GS" inspect "$WORK/ovf/nonfinite_00000001.h5" > /dev/null && [ ! -e "$WORK/ovf/ckpt_00000001.h5" ]; then
  pass "overflowed weights: exit 5, incident nonfinite_00000001.h5, no checkpoint"
else tail -4 "$WORK/ovf.log"; fail "overflowed weights: exit $rc"; fi
finish
