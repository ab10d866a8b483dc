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
[ -n "$inc" ] && { "$GS" inspect "$inc" | grep -qE "exploding|nonfinite" && pass "inspect shows the explosion" || fail "inspect shows no explosion"; }
good=$(latest_ckpt "$WORK/run")
"$GS" inspect "$good" > /dev/null && pass "last good checkpoint $(basename "$good") still valid" || fail "latest checkpoint damaged"
"$PY" -c "import h5py,numpy as np,sys; f=h5py.File('$good'); sys.exit(0 if all(np.isfinite(f['model/'+n.decode()+'/weight'][()]).all() for n in f['model/layer_names'][()]) else 1)" \
  && pass "latest holds finite weights" || fail "latest holds non-finite weights"
gs_mpi 2 train "$WORK/x.ini" --set train.on_nonfinite=skip --set "checkpoint.dir=$WORK/skip" > "$WORK/skip.log" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "update skipped" "$WORK/skip.log" && pass "on_nonfinite = skip finishes and says what it skipped" \
  || { tail -3 "$WORK/skip.log"; fail "skip policy: exit $rc"; }
finish
