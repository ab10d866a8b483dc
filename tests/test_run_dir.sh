#!/usr/bin/env bash
# Safe run directories and the small truths of the command line:
#  - a new run into a directory that holds checkpoints is refused (exit 2,
#    within seconds, nothing on disk changed) with the three ways out;
#    --overwrite deletes them (only after the data and network are ready)
#    and starts afresh; --resume auto skips, and names, checkpoints of
#    another model, and where none is of this model says so (exit 4);
#  - checkpoints by default at every epoch's end and at the end;
#    keep_best keeps only the checkpoint of the lowest validation loss;
#    early_stop_patience stops after N evaluations without a lower one;
#  - after a failure the message says what is on disk, and inspect lists
#    the incident records;
#  - `dir = ""` means no checkpoints (no directory named '""'); a training
#    file given without `synthetic` is what trains;
#  - --help exits 0 for every command, a wrong call 2; train --help points
#    to `gradscope config --doc`; counts agree with their nouns.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

# RUN_DIR -> "name size mtime" of every file, to show that nothing changed
listing() { (cd "$1" && for f in *; do stat -c '%n %s %Y' "$f"; done; cat latest 2>/dev/null); }
timed() { # STATUS LABEL -- command...: exit status and time (< 10 s)
  local want=$1 label=$2; shift 3
  local start=$(date +%s%N)
  out=$("$@" 2>&1); rc=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$rc" -eq "$want" ] && [ "$ms" -lt 10000 ] && return 0
  fail "$label: exit $rc (expected $want) after $ms ms: $(echo "$out" | tail -3)"; return 1
}

write_config a.ini <<INI
[model]
layers = 2, 16, 3
[data]
n_train = 300
n_test = 100
[train]
epochs = 3
batch_size = 50
log_every = 1000
[checkpoint]
dir = runs/a
INI
gs_mpi 1 train a.ini > first.log 2>&1 || fail "first run: $(tail -3 first.log)"
# checkpoints by default: every epoch's end (6 steps an epoch) and the end
ls runs/a | tr '\n' ' ' | grep -q "ckpt_00000006.h5 ckpt_00000012.h5 ckpt_00000018.h5 latest" \
  && pass "checkpoints at every epoch's end by default: $(ls runs/a | tr '\n' ' ')" \
  || fail "default checkpoints: $(ls runs/a | tr '\n' ' ')"

# a second new run into it: refused, exit 2, nothing changed
before=$(listing runs/a)
if timed 2 "second run into the same directory" -- gs_mpi 2 train a.ini; then
  echo "$out" | grep -q "runs/a holds 4 checkpoint files of an earlier run, the newest at step 18" \
    && echo "$out" | grep -q -- "--resume auto" && echo "$out" | grep -q -- "--set checkpoint.dir=runs/a-2" \
    && echo "$out" | grep -q -- "--overwrite" && [ "$(echo "$out" | grep -c "holds 4 checkpoint")" -eq 1 ] \
    && pass "a new run into a run directory is refused once, with the three ways out: $(echo "$out" | head -1)" \
    || fail "the refusal's message: $out"
fi
[ "$(listing runs/a)" = "$before" ] && pass "the refused run changed nothing on disk" || fail "the refused run changed runs/a"
# --overwrite with a bad data file: refused for the data, the old run kept
"$GS" train a.ini --overwrite --set data.synthetic=none --set data.train=nothing.h5 > /dev/null 2>&1; rc=$?
[ $rc -eq 3 ] && [ "$(listing runs/a)" = "$before" ] && pass "--overwrite deletes nothing when the data is bad (exit 3)" \
  || fail "--overwrite with bad data: exit $rc, runs/a: $(ls runs/a | tr '\n' ' ')"
# --overwrite of a shorter run: no checkpoint of the first run stays
gs_mpi 2 train a.ini --overwrite --set train.epochs=1 > over.log 2>&1 || fail "--overwrite: $(tail -3 over.log)"
grep -q "overwrite: removed 4 files of an earlier run from runs/a" over.log && [ "$(ls runs/a | tr '\n' ' ')" = "ckpt_00000006.h5 latest metrics.jsonl " ] \
  && [ "$(grep -c '"kind":"start"' runs/a/metrics.jsonl)" -eq 1 ] \
  && pass "--overwrite removed the earlier run's files and started afresh (its metrics stream too)" || fail "--overwrite: $(ls runs/a | tr '\n' ' '); $(head -1 over.log)"
timed 2 "--overwrite with --resume" -- "$GS" train a.ini --overwrite --resume auto \
  && { echo "$out" | grep -q "give one of them" && pass "--overwrite and --resume together: usage error" \
         || fail "--overwrite with --resume: $out"; }

# --resume auto: checkpoints of another model are skipped and named
mkdir -p runs/mix && cp runs/a/ckpt_00000006.h5 runs/mix/
gs_mpi 1 train a.ini --set checkpoint.dir=runs/b --set "model.layers=2, 8, 3" --set train.epochs=2 > /dev/null 2>&1
cp runs/b/ckpt_00000012.h5 runs/mix/ && echo ckpt_00000012.h5 > runs/mix/latest   # the newest is of the other model
gs_mpi 2 train a.ini --set checkpoint.dir=runs/mix --set train.epochs=2 --resume auto > mix.log 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "skipping checkpoint of another model runs/mix/ckpt_00000012.h5: /model/layer_000/weight is \[8, 2\] but the config makes it \[16, 2\]" mix.log \
  && grep -q "^resume: runs/mix/ckpt_00000006.h5: step 6 (end of epoch 1), written by 2 ranks$" mix.log \
  && pass "--resume auto skipped the other model's checkpoint, named it, and resumed from this model's" \
  || fail "--resume auto in a mixed directory: exit $rc: $(grep -E 'skipping|resume' mix.log)"
timed 4 "--resume auto where no checkpoint is of this model" -- \
  gs_mpi 2 train a.ini --set checkpoint.dir=runs/b --set "model.layers=2, 32, 3" --resume auto \
  && echo "$out" | grep -q "runs/b holds no valid checkpoint of this model" && echo "$out" | grep -q "skipping checkpoint of another model runs/b/ckpt_00000012.h5" \
  && ! echo "$out" | grep -q "this run wrote no checkpoint" \
  && pass "no checkpoint of this model: exit 4, each skipped one named" || { [ $rc -eq 4 ] && fail "message: $out"; }
gs_mpi 1 train a.ini --set checkpoint.dir=runs/fresh --resume auto > fresh.log 2>&1 && grep -q "resume: no checkpoint in runs/fresh, starting fresh" fresh.log \
  && pass "--resume auto into an empty directory starts fresh" || fail "--resume auto, empty directory: $(tail -2 fresh.log)"
grep -q "written by 1 rank$" <(gs_mpi 1 train a.ini --set checkpoint.dir=runs/fresh --set train.epochs=4 --resume auto 2>&1) \
  && pass "\"written by 1 rank\"" || fail "the resume line's plural"

# keep_best and early stopping on the validation loss; lr so small that no
# update changes a weight, so every evaluation's loss is the first's
write_config v.ini <<INI
[model]
layers = 2, 16, 3
[data]
n_train = 300
n_test = 100
validation_fraction = 0.2
[train]
epochs = 4
batch_size = 48
log_every = 1000
[checkpoint]
dir = runs/v
keep_best = true
INI
gs_mpi 2 train v.ini > v.log 2>&1 || fail "keep_best run: $(tail -3 v.log)"
"$PY" - runs/v <<'PYEOF' && pass "keep_best: one best_<step>.h5, at the lowest validation loss" || fail "keep_best"
import sys, glob, os, h5py, numpy as np
d = sys.argv[1]
best = glob.glob(os.path.join(d, "best_*.h5"))
assert len(best) == 1, best
h = h5py.File(os.path.join(d, open(os.path.join(d, "latest")).read().strip()), "r")["history/eval"]
v, steps = h["validation_loss"][()], h["step"][()]
assert np.isfinite(v).all() and len(v) == 4, v
assert int(h5py.File(best[0], "r").attrs["step"]) == steps[np.argmin(v)], (best, steps, v)
print("best", best[0], "validation losses", v)
PYEOF
grep -q "^model: .* data: synthetic:spiral (training set), 240 rows" v.log \
  && pass "validation_fraction 0.2 of 300 rows leaves 240 to train on" || fail "validation rows: $(grep '^model' v.log)"
grep -qE "^eval epoch 4 step 20 test loss [0-9.]+ accuracy [0-9.]+ validation loss [0-9.]+ accuracy [0-9.]+$" v.log \
  && pass "eval lines report the test and the validation set" || fail "eval line: $(grep '^eval' v.log | tail -1)"
gs_mpi 2 train v.ini --set checkpoint.dir=runs/es --set train.epochs=10 --set train.early_stop_patience=2 \
  --set optimizer.lr=1e-30 --set optimizer.momentum=0 > es.log 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "^early stop: 2 evaluations without a lower validation loss than .* (step 5)" es.log \
  && [ "$(grep -c '^eval' es.log)" -eq 3 ] && [ "$(cat runs/es/latest)" = ckpt_00000015.h5 ] \
  && pass "early_stop_patience = 2 stopped after epoch 3, with a final checkpoint" \
  || fail "early stop: exit $rc: $(grep -E '^eval|early|^checkpoint' es.log | tail -4)"

# after a failure: the truth about what is on disk; inspect lists the incidents
layers="16$(printf ', 128%.0s' $(seq 19)), 4"
write_config x.ini <<INI
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
epochs = 2
batch_size = 64
[optimizer]
lr = 0.1
momentum = 0
[checkpoint]
dir = runs/x
INI
gs_mpi 2 train x.ini > x.log 2>&1; rc=$?
[ $rc -eq 5 ] && grep -q "incident record written to runs/x/nonfinite_" x.log \
  && grep -q "this run wrote no checkpoint to runs/x before it ended" x.log && ! grep -q "untouched" x.log \
  && pass "non-finite before the first checkpoint: the message says none was written" || fail "exit $rc: $(tail -3 x.log)"
gs_mpi 2 train x.ini --set checkpoint.dir=runs/x1 --set checkpoint.every_steps=1 > x1.log 2>&1; rc=$?
step=$(sed -n 's/.*incident record written to runs\/x1\/nonfinite_0*\([0-9]*\)\.h5.*/\1/p' x1.log)
prev=$(printf 'runs/x1/ckpt_%08d.h5' $((step)))
[ $rc -eq 5 ] && [ -n "$step" ] && grep -q "the newest checkpoint of this run is $prev: --resume auto continues from it" x1.log && [ -f "$prev" ] \
  && pass "non-finite after checkpoints: the message names the newest, which exists ($prev)" || fail "exit $rc: $(tail -3 x1.log)"
"$GS" inspect runs/x1 > x1.txt 2>&1 && grep -q "^incident    runs/x1/nonfinite_.*never resumed from" x1.txt \
  && pass "inspect RUN_DIR lists the incident record" || fail "inspect: $(tail -3 x1.txt)"
"$GS" inspect runs/x1 --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert len(d["incidents"]) == 1 and d["incidents"][0].startswith("nonfinite_"), d["incidents"]' \
  && pass "inspect --json lists it" || fail "inspect --json incidents"
"$GS" inspect runs/x > xi.txt 2>&1; rc=$?
[ $rc -eq 4 ] && grep -q "no valid checkpoint in this directory; it holds incident records:" xi.txt && grep -q "^incident    runs/x/nonfinite_" xi.txt \
  && pass "inspect of a run with only an incident record: exit 4, the record named" || fail "inspect runs/x: exit $rc: $(cat xi.txt)"

# dir = "" : no checkpoints, no directory named '""'
printf '[model]\nlayers = 2, 8, 3\n[data]\nn_train = 60\nn_test = 0\n[train]\nepochs = 1\nbatch_size = 30\n[checkpoint]\ndir = ""\n' > e.ini
gs_mpi 1 train e.ini > e.log 2>&1 && [ ! -e '""' ] && [ ! -e runs/default ] && ! grep -q "^checkpoint" e.log \
  && "$GS" config e.ini | grep -qx "dir =" && pass 'dir = "" is the empty string: no checkpoints, no directory' \
  || fail "dir = \"\": $(ls -a | tr '\n' ' ')"
# a training file given, synthetic not: the file trains
"$PY" -c 'import h5py, numpy as np; f = h5py.File("f.h5", "w"); f["X"] = np.random.default_rng(0).random((40, 2), dtype=np.float32); f["y"] = np.arange(40) % 3'
gs_mpi 1 train e.ini --set data.train=f.h5 > f.log 2>&1 && grep -q "data: f.h5, 40 rows x 2" f.log \
  && pass "[data] train without synthetic trains on the file" || fail "train file ignored: $(grep -E 'model|error' f.log)"
timed 2 "train file and a synthetic set" -- "$GS" train e.ini --set data.train=f.h5 --set data.synthetic=spiral \
  && echo "$out" | grep -q "synthetic = spiral: generates the training set, so \[data\] train = f.h5 .* would be ignored" \
  && pass "a train file with synthetic = spiral is refused, naming both" || [ $rc -ne 2 ] || fail "message: $out"

# --help exits 0 everywhere, with the usage on stdout; a wrong call exits 2
before_help=$fails
for c in train eval predict doctor inspect convert "convert csv" "convert npy" "convert npz" "convert idx" config blas; do
  # shellcheck disable=SC2086
  h=$("$GS" $c --help 2> /dev/null); rc=$?
  [ $rc -eq 0 ] && echo "$h" | grep -q "^usage:" && echo "$h" | grep -q "gradscope ${c%% *}" \
    || fail "gradscope $c --help: exit $rc, $(echo "$h" | head -1)"
done
[ "$fails" -eq "$before_help" ] && pass "--help: exit 0 and the usage, for every command"
"$GS" train --help | grep -q "gradscope config --doc" && pass "train --help points to gradscope config --doc" || fail "train --help"
for args in "eval" "eval x.h5" "predict c.h5 d.h5" "predict c.h5 d.h5 -o out.txt" "eval c.h5 d.h5 --bogus" "config --bogus" "inspect"; do
  # shellcheck disable=SC2086
  "$GS" $args > /dev/null 2> err.txt; rc=$?
  [ $rc -eq 2 ] && grep -q "usage: gradscope" err.txt || fail "gradscope $args: exit $rc, want 2 with the usage: $(cat err.txt)"
done
[ "$fails" -eq "$before_help" ] && pass "wrong calls exit 2 with the usage on stderr"
grep -q "^gradscope [0-9.]*: 1 rank x 1 BLAS thread, " <(gs_mpi 1 train e.ini --set train.blas_threads=1 2>&1) \
  && pass "\"1 rank x 1 BLAS thread\"" || fail "the banner's plurals"
finish
