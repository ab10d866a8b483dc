#!/usr/bin/env bash
# test_metrics_stream.sh: RUN_DIR/metrics.jsonl of real runs, read as
# docs/metrics.md says (jobs/gradscope_metrics.py), against the checkpoint
# the run ends with:
#  - lines appear while the run trains (each written whole and flushed);
#  - every line is a JSON object of schema 1 with kind, time and step; the
#    times never go back;
#  - a run killed mid-way (no end record), requeued from its checkpoint,
#    stopped by a signal (end: stopped, 75) and requeued again: with its
#    resume records applied, the stream's statistics records are the final
#    checkpoint's /history/stats, every field bit for bit, its evaluations
#    /history/eval, and each progress record's loss the mean of
#    /history/loss over its steps;
#  - the doctor's repair (re-initialized from the seed): problem, repair
#    and a resume at step 0, and again the checkpoint's history;
#  - a non-finite stop: an incident record and end failed, exit 5, why;
#  - no [checkpoint] dir: no stream, and nothing written.
. "$(dirname "$0")/lib.sh"
cd "$WORK"
export PYTHONPATH="$GRADSCOPE_SRC/jobs"

# well_formed STREAM: every line a record of schema 1, times non-decreasing
well_formed() {
  "$PY" - "$1" <<'PYEOF'
import json, sys
kinds = {"start", "resume", "progress", "stats", "diagnosis", "problem", "repair", "eval", "checkpoint", "end"}
data = open(sys.argv[1], "rb").read()
assert data.endswith(b"\n"), "the last line is unfinished"
t = 0
for n, line in enumerate(data.split(b"\n")[:-1], 1):
    r = json.loads(line)
    assert list(r)[:4] == ["schema", "kind", "time", "step"], (n, list(r)[:4])
    assert r["schema"] == 1 and r["kind"] in kinds and isinstance(r["step"], int), (n, r)
    assert r["time"] >= t, (n, "time went back")
    t = r["time"]
print(f"{n} lines, each a record of schema 1")
PYEOF
}

# agrees STREAM CHECKPOINT: the stream, resume records applied, against the checkpoint's history
agrees() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
import gradscope_metrics as gm
s, f = gm.read(sys.argv[1]), h5py.File(sys.argv[2], "r")
assert not s.skipped, s.skipped
h = f["/history/stats"]
st = s.of("stats")
assert [r["record_step"] for r in st] == list(h["step"][()]), "records at other steps"
assert all(r["step"] == r["record_step"] + 1 for r in st), "a record's step is the steps completed after it"
for k in h:
    if k in ("step", "verdict"):
        continue
    if k not in st[0]:
        continue
    x = np.array([[np.nan if v is None else v for v in r[k]] for r in st], dtype=np.float32)
    y = h[k][()]
    assert x.shape == y.shape, (k, x.shape, y.shape)
    assert np.array_equal(x.view(np.uint32), y.view(np.uint32)) or np.array_equal(x, y, equal_nan=True), k
hv = [[v.decode() if isinstance(v, bytes) else v for v in row] for row in f["/history/verdicts"][()]]
assert [r["verdict"] for r in st] == hv, "verdicts"
ev = s.of("eval")
assert [r["step"] for r in ev] == list(f["/history/eval/step"][()]), "evaluations"
assert np.array_equal(np.array([r["loss"] for r in ev], dtype=np.float32), f["/history/eval/loss"][()]), "eval loss"
loss = f["/history/loss"][()].astype(np.float64)
prev = 0  # a progress record's loss: the mean since the last one, or since the process resumed
for r in s.records:
    if r["kind"] == "resume":
        prev = r["step"]
    elif r["kind"] == "progress":
        want = loss[prev:r["step"]].mean()
        assert abs(r["loss"] - want) <= 1e-6 * abs(want) + 1e-7, (r["step"], r["loss"], want)
        prev = r["step"]
start = s.last("start")
names = [n.decode() if isinstance(n, bytes) else n for n in f["/model/layer_names"][()]]
assert [(l["n_out"], l["n_in"]) for l in start["layers"]] == [f[f"/model/{n}/weight"].shape for n in names]
print(f"{len(st)} statistics records, {len(ev)} evaluations and {len(s.of('progress'))} progress records agree "
      f"with {sys.argv[2].split('/')[-1]} ({s.dropped} dropped by resume records)")
PYEOF
}

write_config k.ini <<INI
[model]
layers = 2, 32, 32, 3
[data]
n_train = 2000
n_test = 200
[train]
epochs = 4
batch_size = 50
log_every = 10
[stats]
every_steps = 5
[checkpoint]
dir = runs/k
every_steps = 25
INI

# 1. lines while the run trains: a longer run, read as it goes, which a
# signal stops at step 400 (as Slurm's warning signal would)
write_config long.ini <<INI
[model]
layers = 2, 256, 256, 256, 3
[data]
n_train = 20000
n_test = 1000
[train]
epochs = 20
batch_size = 100
log_every = 10
[checkpoint]
dir = runs/long
INI
GRADSCOPE_TEST_FAULT=0:400:signal gs_mpi 2 train long.ini > long.log 2>&1 &
run=$!
seen=""
for _ in $(seq 600); do
  if grep -q '"kind":"progress"' runs/long/metrics.jsonl 2>/dev/null; then
    kill -0 $run 2>/dev/null && seen=yes
    break
  fi
  sleep 0.1
done
[ -n "$seen" ] && pass "progress records are in the stream while the run trains" \
  || fail "no progress record while the run trained: $(tail -2 long.log)"
wait $run
tail -1 runs/long/metrics.jsonl | grep -q '"kind":"end","time":[0-9.]*,"step":401,"status":"stopped","exit":75' \
  && pass "stopped by a signal: the last record is the end: stopped at step 401, exit 75" \
  || fail "stopped by a signal: the last record: $(tail -1 runs/long/metrics.jsonl | cut -c1-200)"

# 2. killed, requeued, stopped, requeued
GRADSCOPE_TEST_FAULT=0:62:exit gs_mpi 2 train k.ini > k1.log 2>&1 && fail "the killed run exited 0"
well_formed runs/k/metrics.jsonl > /dev/null && ! grep -q '"kind":"end"' runs/k/metrics.jsonl \
  && pass "a killed run: whole lines, no end record" || fail "the killed run's stream"
GRADSCOPE_TEST_FAULT=1:90:signal gs_mpi 2 train k.ini --resume auto > k2.log 2>&1; rc=$?
[ $rc -eq 75 ] || fail "the stopped run: exit $rc"
gs_mpi 2 train k.ini --resume auto > k3.log 2>&1 || fail "the last part: $(tail -3 k3.log)"
out=$(well_formed runs/k/metrics.jsonl) && pass "well formed: $out" || fail "not well formed: $out"
kinds=$("$PY" -c "
import gradscope_metrics as gm
s = gm.read('runs/k')
print(' '.join(f\"{r['kind']}@{r['step']}\" + (':' + r.get('reason', r.get('status', ''))) for r in s.records
               if r['kind'] in ('start', 'resume', 'end')))")
[ "$kinds" = "start@0: start@0: resume@50:checkpoint end@91:stopped start@0: resume@91:checkpoint end@160:finished" ] \
  && pass "start, resume and end records: $kinds" || fail "start, resume and end records: $kinds"
out=$(agrees runs/k/metrics.jsonl "$(latest_ckpt runs/k)" 2>&1) && pass "$out" || fail "the stream and the checkpoint: $out"

# 3. the doctor's repair: re-initialized from the seed
write_config sig.ini <<INI
[model]
layers = 2,32,32,32,32,32,32,32,32,32,32,3
activation = sigmoid
init = xavier_normal
[train]
epochs = 8
blas_threads = 1
log_every = 50
[doctor]
mode = repair
[checkpoint]
dir = runs/sig
INI
gs_mpi 1 train sig.ini > sig.log 2>&1 || fail "the repaired run: $(tail -3 sig.log)"
grep -q "doctor: repair 1 of 3" sig.log || fail "no repair in the run"
# (the repaired run may need further repairs: each is its own resume + repair pair)
kinds=$("$PY" -c "
import gradscope_metrics as gm
s = gm.read('runs/sig')
rr = [x for x in s.records if x['kind'] in ('resume', 'repair')]
reps = s.of('repair')
pairs = all(a['kind'] == 'resume' and b['kind'] == 'repair' and a['step'] == b['resumed_at']
            for a, b in zip(rr[0::2], rr[1::2])) and len(rr) == 2 * len(reps)
print(' '.join(x['kind'] + '@' + str(x['step']) for x in rr[:2]), reps[0]['symptom'], reps[0]['resumed_at'],
      pairs, len(s.of('problem')), s.dropped > 0,
      all('repair %d of 3' % (i + 1) in r['text'] for i, r in enumerate(reps)))")
[ "$kinds" = "resume@0 repair@0 vanishing 0 True 0 True True" ] \
  && pass "repair: a resume at step 0, then the repair (the problem before it dropped with the rest); later repairs in pairs too" \
  || fail "repair records: $kinds"
grep -q '"kind":"problem".*"symptom":"vanishing".*"remedies":\[{"set":\["' runs/sig/metrics.jsonl \
  && pass "the problem record, with its remedies, is in the file" || fail "no problem record"
out=$(agrees runs/sig/metrics.jsonl "$(latest_ckpt runs/sig)" 2>&1) && pass "repaired: $out" || fail "repaired: $out"

# 4. a non-finite stop
write_config nan.ini <<INI
[model]
layers = 8,$(printf '64,%.0s' $(seq 19))3
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
blas_threads = 1
[optimizer]
lr = 0.1
momentum = 0
[checkpoint]
dir = runs/nan
every_steps = 1
[stats]
every_steps = 1
INI
gs_mpi 1 train nan.ini > nan.log 2>&1; rc=$?
[ $rc -eq 5 ] || fail "the non-finite run: exit $rc"
"$PY" - runs/nan <<'PYEOF' && pass "non-finite: an incident record, then end failed, exit 5, with why" || fail "non-finite records"
import sys, gradscope_metrics as gm
s = gm.read(sys.argv[1])
end, inc = s.last("end"), [r for r in s.of("checkpoint") if r["tag"] == "incident"]
assert end["status"] == "failed" and end["exit"] == 5 and "non-finite" in end["message"], end
assert inc and "nonfinite_" in inc[-1]["path"], inc
st = s.last("stats")
assert None in st["grad_norm"] or "nonfinite" in st["verdict"], st["verdict"]
PYEOF

# 5. no [checkpoint] dir: no stream
mkdir empty && cd empty
gs_mpi 1 train ../k.ini --set 'checkpoint.dir=""' > ../nodir.log 2>&1 || fail "a run without a dir"
cd ..
[ -z "$(ls empty)" ] && pass "dir = \"\": no stream, nothing written" || fail "dir = \"\" wrote: $(ls empty)"
finish
