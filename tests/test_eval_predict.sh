#!/usr/bin/env bash
# gradscope eval and predict on a model trained from a CSV file with string
# labels, raw features of very different scales, [data] normalize =
# standardize and a validation split:
#  - the standardization's statistics in the checkpoint are the training
#    rows' mean and standard deviation;
#  - eval prints the same text and the same JSON at 1, 2 and 3 ranks, and
#    predict writes the same bits (700 rows: chunks of 256 on several ranks);
#  - eval's accuracy and confusion matrix agree with predict's classes;
#  - the CSV output has a header, the class names, one line per row;
#  - the validation split is the same rows at any rank count;
#  - bad input: one clear line, its exit status, no output file left.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

"$PY" - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(7)
n = 700
X = rng.normal(size=(n, 4))
names = np.array(["cat", "dog", "emu"])
y = np.argmax(X[:, :3] + 0.3 * rng.normal(size=(n, 3)), axis=1)
X = X * np.array([1.0, 1000.0, 0.001, 50.0]) + np.array([0.0, 5000.0, -3.0, 100.0])  # raw, unscaled features
with open("pets.csv", "w") as f:
    f.write("a,b,c,d,kind\n")
    for row, k in zip(X, y):
        f.write(",".join("%.6g" % v for v in row) + ",%s\n" % names[k])
with open("wide.csv", "w") as f:   # one feature too many
    f.write("a,b,c,d,e,kind\n")
    for row, k in zip(X[:20], y[:20]):
        f.write(",".join("%.6g" % v for v in row) + ",1.0,%s\n" % names[k])
PYEOF
"$GS" convert csv pets.csv pets.h5 > /dev/null || fail "convert pets.csv"
"$GS" convert csv wide.csv wide.h5 > /dev/null || fail "convert wide.csv"

write_config pets.ini <<INI
[model]
layers = 4, 32, 3
[data]
train = pets.h5
normalize = standardize
[train]
epochs = 8
batch_size = 50
log_every = 1000
[optimizer]
lr = 0.1
[checkpoint]
dir = runs/pets
INI
gs_mpi 2 train pets.ini > train.log 2>&1 || fail "training: $(tail -3 train.log)"
CK=$(ls runs/pets/ckpt_*.h5 | tail -1)

# the statistics stored are the training rows' (float32 CSV values, population std)
"$PY" - "$CK" <<'PYEOF' && pass "the checkpoint holds the training set's per-feature mean and std" || fail "normalize statistics"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
X = h5py.File("pets.h5", "r")["X"][()].astype(np.float64)
m, s = f["data/normalize/mean"][()], f["data/normalize/std"][()]
assert np.allclose(m, X.mean(0), rtol=1e-6, atol=1e-6), (m, X.mean(0))
assert np.allclose(s, X.std(0), rtol=1e-5), (s, X.std(0))
assert [c.decode() if isinstance(c, bytes) else c for c in f["data/classes"][()]] == ["cat", "dog", "emu"]
PYEOF
"$GS" inspect runs/pets > inspect.txt 2>&1 && grep -q "^inputs      standardized" inspect.txt \
  && grep -q "^classes     cat, dog, emu$" inspect.txt \
  && "$GS" inspect runs/pets --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["classes"] == ["cat", "dog", "emu"] and d["model"]["standardized_inputs"]' \
  && pass "inspect shows the standardization and the class names" || fail "inspect: $(head -8 inspect.txt)"
grep -qE "^eval epoch 8 step 112 train loss 0\.[0-3][0-9]* accuracy 0\.(9|8)" train.log \
  && pass "standardized raw features train: $(grep '^eval' train.log | tail -1)" || fail "training did not learn: $(grep '^eval' train.log | tail -2)"

# the same numbers at any rank count
for np in 1 2 3; do
  gs_mpi $np eval runs/pets pets.h5 > eval$np.txt 2> eval$np.err || fail "eval at $np ranks: $(cat eval$np.err)"
  gs_mpi $np eval "$CK" pets.h5 --json > eval$np.json 2>> eval$np.err || fail "eval --json at $np ranks"
  gs_mpi $np predict runs/pets pets.h5 -o pred$np.h5 > /dev/null 2>> eval$np.err || fail "predict at $np ranks: $(cat eval$np.err)"
done
cmp -s eval1.txt eval2.txt && cmp -s eval1.txt eval3.txt && cmp -s eval1.json eval2.json && cmp -s eval1.json eval3.json \
  && pass "eval: the same text and JSON at 1, 2 and 3 ranks" || fail "eval differs across rank counts: $(diff eval1.json eval3.json | head -5)"
grep -q "^loss [0-9.]* accuracy [0-9.]* ([0-9]* of 700)" eval1.txt && grep -q "^confusion matrix" eval1.txt \
  && grep -qE "^emu +[0-9]+ +[0-9.]+$" eval1.txt && pass "eval's text: loss, accuracy, per class, confusion matrix" \
  || fail "eval's text: $(cat eval1.txt)"
"$PY" - <<'PYEOF' && pass "predict: the same bits at 1, 2 and 3 ranks; eval's numbers agree with predict's classes" || fail "predict across ranks"
import json, h5py, numpy as np
outs = [h5py.File("pred%d.h5" % n, "r") for n in (1, 2, 3)]
for o in outs[1:]:
    assert np.array_equal(o["output"][()].view(np.uint32), outs[0]["output"][()].view(np.uint32))
    assert np.array_equal(o["class"][()], outs[0]["class"][()])
p, c = outs[0]["output"][()], outs[0]["class"][()]
assert p.shape == (700, 3) and c.shape == (700,), (p.shape, c.shape)
assert np.allclose(p.sum(1), 1, atol=1e-5) and np.array_equal(c, p.argmax(1))
y = h5py.File("pets.h5", "r")["y"][()]
e = json.load(open("eval1.json"))
assert e["rows"] == 700 and e["classes"] == ["cat", "dog", "emu"], e
assert e["correct"] == int((c == y).sum()) and abs(e["accuracy"] - (c == y).mean()) < 1e-9, (e["correct"], (c == y).sum())
conf = np.zeros((3, 3), int)
np.add.at(conf, (y, c), 1)
assert e["confusion"] == conf.tolist(), (e["confusion"], conf)
# the loss: cross-entropy of the probabilities (float32 rounding apart)
ce = -np.log(np.maximum(p[np.arange(700), y].astype(np.float64), 1e-30)).mean()
assert abs(e["loss"] - ce) < 1e-4 * max(1, ce), (e["loss"], ce)
PYEOF

# the CSV output: a header, the class names, one line per row in input order
gs_mpi 3 predict runs/pets pets.h5 -o pred.csv > /dev/null 2>&1 || fail "predict -o pred.csv"
"$PY" - <<'PYEOF' && pass "predict -o OUT.csv: header, class names, 700 rows in input order" || fail "predict CSV"
import csv, h5py, numpy as np
rows = list(csv.reader(open("pred.csv")))
assert rows[0] == ["class", "class_name", "p_cat", "p_dog", "p_emu"], rows[0]
assert len(rows) == 701, len(rows)
h = h5py.File("pred1.h5", "r")
c, p = h["class"][()], h["output"][()]
names = ["cat", "dog", "emu"]
for i, r in enumerate(rows[1:]):
    assert int(r[0]) == c[i] and r[1] == names[c[i]], (i, r, c[i])
    assert np.allclose([float(v) for v in r[2:]], p[i], rtol=1e-7, atol=0), (i, r, p[i])
PYEOF

# the validation split: the same rows at any rank count (lr so small that
# no weight moves: the first evaluation's validation loss is then a
# function of which rows were held out, up to the order of the sums)
for np in 1 3; do
  gs_mpi $np train pets.ini --set checkpoint.dir=runs/val$np --set data.validation_fraction=0.25 \
    --set optimizer.lr=1e-30 --set optimizer.momentum=0 --set train.epochs=1 > val$np.log 2>&1 || fail "validation run at $np ranks"
done
"$PY" - runs/val1/ckpt_00000011.h5 runs/val3/ckpt_00000011.h5 <<'PYEOF' \
  && pass "validation_fraction: 525 rows train, the same 175 are held out at 1 and 3 ranks" || fail "validation split"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
va, vb = a["history/eval/validation_loss"][()], b["history/eval/validation_loss"][()]
assert va.shape == (1,) and np.isfinite(va).all(), va
assert abs(va[0] - vb[0]) <= 1e-6 * abs(va[0]), (va, vb)
# the statistics are the training rows' only: not those of all 700
X = h5py.File("pets.h5", "r")["X"][()].astype(np.float64)
m = a["data/normalize/mean"][()]
assert not np.allclose(m, X.mean(0), rtol=1e-7, atol=0), "the validation rows went into the mean"
assert np.allclose(m, b["data/normalize/mean"][()], rtol=1e-6), "the mean depends on the rank count"
PYEOF
grep -q "data: pets.h5 (training set), 525 rows" val1.log || grep -q "525 rows" val1.log \
  || fail "the banner does not count 525 training rows: $(grep '^model' val1.log)"

# bad input: one line, the exit status of the README's table, no output left
gs_mpi 2 predict runs/pets wide.h5 -o bad.h5 > /dev/null 2> wide.err; rc=$?
[ $rc -eq 3 ] && grep -q "D = 5 columns.*takes 4 inputs" wide.err && [ "$(grep -c gradscope wide.err)" -eq 1 ] \
  && [ ! -e bad.h5 ] && [ ! -e bad.h5.tmp ] && pass "predict on data of the wrong width: exit 3, one line, no file: $(cat wide.err)" \
  || fail "predict, wrong width: exit $rc: $(cat wide.err); $(ls bad.h5* 2>/dev/null)"
gs_mpi 2 eval runs/pets wide.h5 > /dev/null 2> wide2.err; rc=$?
[ $rc -eq 3 ] && grep -q "takes 4 inputs" wide2.err && pass "eval on data of the wrong width: exit 3" || fail "eval, wrong width: exit $rc: $(cat wide2.err)"
"$GS" eval pets.h5 pets.h5 > /dev/null 2> notckpt.err; rc=$?
[ $rc -eq 4 ] && grep -q "pets.h5" notckpt.err && pass "eval of a file that is no checkpoint: exit 4" || fail "not a checkpoint: exit $rc: $(cat notckpt.err)"
"$GS" predict runs/pets missing.h5 -o gone.csv > /dev/null 2> missing.err; rc=$?
[ $rc -eq 3 ] && grep -q "missing.h5" missing.err && [ ! -e gone.csv ] && [ ! -e gone.csv.tmp ] \
  && pass "predict on a missing data file: exit 3, no output" || fail "missing data: exit $rc: $(cat missing.err)"
"$PY" -c 'import h5py, numpy as np; f = h5py.File("y9.h5", "w"); f["X"] = np.zeros((10, 4), np.float32); f["y"] = np.full(10, 9)'
"$GS" eval runs/pets y9.h5 > /dev/null 2> y9.err; rc=$?
[ $rc -eq 3 ] && grep -q "9" y9.err && pass "eval with a label outside the model's classes: exit 3: $(cat y9.err)" || fail "labels out of range: exit $rc: $(cat y9.err)"
"$GS" predict runs/pets pets.h5 -o out.txt > /dev/null 2>&1; [ $? -eq 2 ] && [ ! -e out.txt ] \
  && pass "predict -o out.txt: exit 2" || fail "predict to an unknown format"
# another model's checkpoint is the model: eval of 4-input data by a 2-input model
"$GS" train "$WORK/pets.ini" --set data.synthetic=spiral --set data.train= --set "model.layers=2, 8, 3" \
  --set checkpoint.dir=runs/spiral --set train.epochs=1 > /dev/null 2>&1 || fail "spiral run"
"$GS" eval runs/spiral pets.h5 > /dev/null 2> other.err; rc=$?
[ $rc -eq 3 ] && grep -q "takes 2 inputs" other.err && pass "eval of another model's data: exit 3, the widths named" \
  || fail "another model: exit $rc: $(cat other.err)"
finish
