#!/usr/bin/env bash
# Bad input is a message, not a crash: command-line misuse and config errors
# exit 2 naming the key (and the line); bad data ends every one of 2 ranks
# non-zero within 10 s, with a message naming the file and the problem.
. "$(dirname "$0")/lib.sh"

expect() { # STATUS PATTERN LABEL -- command...
  local want=$1 pat=$2 label=$3; shift 4
  local start=$(date +%s%N)
  out=$("$@" 2>&1); rc=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ "$rc" -ne "$want" ]; then fail "$label: exit $rc, expected $want; output: $(echo "$out" | tail -3)"; return; fi
  if ! echo "$out" | grep -qE -- "$pat"; then fail "$label: message does not match /$pat/: $(echo "$out" | tail -3)"; return; fi
  [ "$ms" -lt 10000 ] || { fail "$label: took $ms ms"; return; }
  pass "$label ($rc, $ms ms): $(echo "$out" | grep -E -- "$pat" | head -1)"
}

# command line
expect 2 "usage" "no command" -- "$GS"
expect 2 "unknown command 'trian'" "unknown command" -- "$GS" trian
expect 2 "missing CONFIG" "train without config" -- "$GS" train
expect 2 "unexpected argument '--frobnicate'" "unknown option" -- "$GS" train x.ini --frobnicate
expect 2 "needs a value" "--set without value" -- "$GS" train x.ini --set
expect 2 "nope.ini" "missing config file" -- "$GS" train "$WORK/nope.ini"

# config errors: one line each, naming the key
base() { printf '[model]\nlayers = 2, 16, 3\n[train]\nepochs = 1\nbatch_size = 10\n[data]\nn_train = 50\n[checkpoint]\ndir =\n'; }
cfg_case() { # LABEL PATTERN EXTRA-INI [--set ...]
  local label=$1 pat=$2 extra=$3; shift 3
  { base; printf '%b' "$extra"; } > "$WORK/c.ini"
  expect 2 "$pat" "config: $label" -- gs_mpi 2 train "$WORK/c.ini" "$@"
}
cfg_case "lr <= 0" "lr" "[optimizer]\nlr = -1\n"
cfg_case "malformed number" "lr" "[optimizer]\nlr = 0.1x\n"
cfg_case "batch_size 0" "batch_size" "" --set train.batch_size=0
cfg_case "layer of width 0" "layers" "" --set "model.layers=2, 0, 3"
cfg_case "fewer than 2 layers" "layers" "" --set "model.layers=2"
cfg_case "unknown activation" "activation" "" --set model.activation=swish
cfg_case "unknown init" "init" "" --set model.init=kaiming_magic
cfg_case "unknown key" "widths" "[model]\nwidths = 3\n"
cfg_case "unknown section" "modle" "[modle]\nlayers = 3\n"
cfg_case "syntax error" ":1[0-9]" "[optimizer\n"
cfg_case "batch smaller than ranks" "batch_size = 1 is smaller than the 2 ranks" "" --set train.batch_size=1
# the remedies' keys
cfg_case "unknown norm" "norm = group: entry 1 'group' is unknown; expected one of none, batch, layer" "" --set model.norm=group
cfg_case "dropout >= 1" "dropout = 1: entry 1 is 1; expected number >= 0 and < 1" "" --set model.dropout=1
cfg_case "beta2 >= 1" "beta2 = 1: must be >= 0 and < 1" "" --set optimizer.type=adam --set optimizer.beta2=1
cfg_case "momentum with adam" "momentum = 0.5: is SGD's; with \\[optimizer\\] type = adam" "" \
  --set optimizer.type=adam --set optimizer.momentum=0.5
cfg_case "nesterov with adamw" "nesterov = true: is SGD's" "" --set optimizer.type=adamw --set optimizer.nesterov=true
cfg_case "residual across widths" "block of weight layers 1 to 1 takes 16 inputs and makes 8 outputs" "" \
  --set "model.layers=2, 16, 8, 3" --set model.residual=1
cfg_case "batch norm, batch of 1 row" "norm = batch: batch norm needs at least 2 rows in a batch" "" \
  --set model.norm=batch --set train.batch_size=1
# the last batch of an epoch: 50 rows in batches of 7 leave 1 row
cfg_case "batch norm, last batch of 1 row" "norm = batch needs at least 2 rows in every batch, but the last batch of an epoch has 1" \
  "" --set model.norm=batch --set train.batch_size=7
# the reproducible mode: groups that divide the batch, one BLAS thread, no more ranks than groups
cfg_case "groups do not divide the batch" "reproducible_groups = 4: does not divide \\[train\\] batch_size .*10.*; expected a divisor of 10, e.g. 2 or 5" \
  "" --set train.reproducible=true --set train.reproducible_groups=4
cfg_case "more groups than rows" "reproducible_groups = 12: does not divide .*expected a divisor of 10, e.g. 10" \
  "" --set train.reproducible=true --set train.reproducible_groups=12
cfg_case "reproducible with BLAS threads" "blas_threads = 2: is more than one thread, and \\[train\\] reproducible" \
  "" --set train.reproducible=true --set train.reproducible_groups=5 --set train.blas_threads=2
{ base; } > "$WORK/c.ini"
expect 2 "reproducible_groups = 2 groups of rows, whole groups per rank, and there are 3 ranks; expected at most 2 ranks, or reproducible_groups = 5" \
  "more ranks than groups" -- gs_mpi 3 train "$WORK/c.ini" --set train.reproducible=true --set train.reproducible_groups=2
[ "$(gs_mpi 2 train "$WORK/c.ini" --set model.init=kaiming_magic 2>&1 | grep -c 'config error')" -eq 1 ] \
  && pass "a config error is printed once, not once per rank" || fail "config error printed more than once"

# data errors, 2 ranks
"$PY" - "$WORK" <<'PYEOF'
import sys, h5py, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(0)
def make(name, X, y, xname="X", yname="y"):
    with h5py.File(f"{w}/{name}.h5", "w") as f:
        if X is not None: f[xname] = X
        if y is not None: f[yname] = y
X = rng.random((40, 4), dtype=np.float32); y = (np.arange(40) % 3).astype(np.int32)
make("good", X, y)
make("noy", X, None)
make("wrongd", rng.random((40, 5), dtype=np.float32), y)
bad = y.copy(); bad[33] = 7; make("badlabel", X, bad)
Xn = X.copy(); Xn[17, 2] = np.nan; make("nan", Xn, y)
make("tiny", X[:1], y[:1])
open(f"{w}/nothdf5.h5", "w").write("this is not HDF5\n")
PYEOF
data_case() { # LABEL PATTERN FILE
  printf '[model]\nlayers = 4, 8, 3\n[data]\nsynthetic = none\ntrain = %s\n[train]\nepochs = 1\nbatch_size = 2\n[checkpoint]\ndir =\n' "$3" > "$WORK/d.ini"
  expect 3 "$2" "data: $1" -- gs_mpi 2 train "$WORK/d.ini"
}
printf '[model]\nlayers = 4, 8, 3\n[data]\nsynthetic = none\ntrain = %s\n[train]\nepochs = 1\nbatch_size = 2\n[checkpoint]\ndir =\n' "$WORK/good.h5" > "$WORK/d.ini"
out=$(gs_mpi 2 train "$WORK/d.ini" 2>&1) && pass "the good file trains (the cases below differ from it in one way each)" \
  || fail "the good file failed: $(echo "$out" | tail -2)"
data_case "missing file" "missing.h5" "$WORK/missing.h5"
data_case "not HDF5" "nothdf5.h5.*(not an HDF5|HDF5)" "$WORK/nothdf5.h5"
data_case "missing dataset" "noy.h5.*/y" "$WORK/noy.h5"
data_case "wrong D" "wrongd.h5.*5" "$WORK/wrongd.h5"
data_case "label out of range" "badlabel.h5.*7" "$WORK/badlabel.h5"
data_case "NaN in X" "nan.h5.*(NaN|non-finite|nan)" "$WORK/nan.h5"
data_case "fewer samples than ranks" "tiny.h5.*(1 sample|rank)" "$WORK/tiny.h5"
# a checkpoint of another model is refused with exit 4, naming what differs
printf '[model]\nlayers = 2, 16, 16, 3\n[data]\nn_train = 60\n[train]\nmax_steps = 2\nbatch_size = 10\n[checkpoint]\ndir = %s/res\n' \
  "$WORK" > "$WORK/r.ini"
gs_mpi 2 train "$WORK/r.ini" > /dev/null 2>&1 || fail "could not write the checkpoint to resume"
expect 4 "has norm none but the config makes it batch" "resume: another norm" -- \
  gs_mpi 2 train "$WORK/r.ini" --set model.norm=batch --resume auto
expect 4 "has residual blocks of 0 layers but the config makes them 1" "resume: another residual" -- \
  gs_mpi 2 train "$WORK/r.ini" --set model.residual=1 --resume auto
expect 4 "holds the state of optimizer sgd, which the config's adam cannot continue" "resume: another optimizer" -- \
  gs_mpi 2 train "$WORK/r.ini" --set optimizer.type=adam --set optimizer.momentum=0 --resume auto
# --set=KEY=VALUE: `gradscope config` takes it as `gradscope train` does (train.sbatch checks the
# config with the job's own arguments before it launches the ranks)
base > "$WORK/b.ini"
out=$("$GS" config "$WORK/b.ini" --set=train.epochs=7 --set train.batch_size=5 2>&1) \
  && echo "$out" | grep -qx "epochs = 7" && echo "$out" | grep -qx "batch_size = 5" \
  && pass "config takes --set=KEY=VALUE and --set KEY=VALUE" || fail "config --set=: $(echo "$out" | tail -2)"
finish
