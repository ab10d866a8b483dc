#!/usr/bin/env bash
# test_doctor_train.sh MODE: the doctor in real runs.
#   advise   an 11-layer sigmoid + xavier net on the spiral vanishes and
#            stalls: the run names vanishing once, with a cause and --set
#            remedies none of which it already uses, and no remedy twice;
#            the control (relu + he, lr 0.01) is told nothing;
#            `gradscope doctor RUN_DIR` says the same, and --json has the
#            documented shape.
#   ranks    repair mode at 1 and 2 ranks (train.reproducible): the same
#            trials of the top remedies with the same losses, the same
#            repairs, the same final weights bit for bit, recorded in
#            /doctor/repairs and shown by `gradscope doctor` and `inspect`.
#   requeue  repair mode stopped after its repair (max_steps) and resumed
#            with the original config: the recorded repair is applied
#            before the compatibility check, and the result is bitwise the
#            uninterrupted repaired run's.
#   exhausted  repair mode with max_repairs = 0: exit 6, a clear message
#            and the report; a 20-layer relu net with normal(1) that goes
#            non-finite: exit 5, and `gradscope doctor` reads the incident.
. "$(dirname "$0")/lib.sh"
MODE=$1
write_config "$WORK/sig.ini" <<INI
[model]
layers = 2,32,32,32,32,32,32,32,32,32,32,3
activation = sigmoid
init = xavier_normal
[train]
epochs = 8
blas_threads = 1
log_every = 1000
[checkpoint]
dir = $WORK/sig
INI

json_shape() { # FILE: the documented keys and types
  "$PY" - "$1" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
for k, t in (("symptoms", list), ("cause", (str, type(None))), ("remedies", list), ("repairs", list)):
    assert k in r and isinstance(r[k], t), (k, type(r.get(k)))
for s in r["symptoms"]:
    assert set(("name", "layers", "first_step", "evidence")) <= set(s), s
    assert isinstance(s["layers"], list) and isinstance(s["first_step"], int)
for m in r["remedies"]:
    assert isinstance(m["set"], list) and all("=" in x for x in m["set"]) and isinstance(m["why"], str), m
for p in r["repairs"]:
    assert set(("step", "symptom", "evidence", "set", "resumed_at")) <= set(p), p
print(r["problem"] if "problem" in r else "", " ".join(s["name"] for s in r["symptoms"]))
PYEOF
}

case $MODE in
advise)
  gs_mpi 1 train "$WORK/sig.ini" > "$WORK/a.log" 2>&1 || { cat "$WORK/a.log"; fail "advise run"; finish; }
  n=$(grep -c "doctor step [0-9]*: vanishing" "$WORK/a.log")
  [ "$n" -eq 1 ] && pass "vanishing named once" || { cat "$WORK/a.log"; fail "vanishing named $n times"; }
  grep -q "cause: sigmoid saturates" "$WORK/a.log" && pass "the cause is the sigmoid" || fail "no sigmoid cause"
  grep -q "remedy 1: --set " "$WORK/a.log" && pass "remedies as --set overrides" || fail "no remedy line"
  grep "remedy [0-9]:" "$WORK/a.log" | grep -qE "model\.(init=xavier_normal|activation=sigmoid)( |$)" \
    && fail "a remedy the run already uses" || pass "no remedy the run already uses"
  dup=$(grep -o "remedy [0-9]*: --set [^(]*" "$WORK/a.log" | sed 's/remedy [0-9]*: //' | sort | uniq -d)
  [ -z "$dup" ] && pass "no remedy said twice" || fail "said twice: $dup"
  lines=$(grep -c "diagnosis step" "$WORK/a.log")
  [ "$lines" -le 4 ] && pass "$lines diagnosis lines (one per layer group and change)" || fail "$lines diagnosis lines"
  "$GS" doctor "$WORK/sig" > "$WORK/d.txt" 2>&1 && grep -q "^problem   vanishing" "$WORK/d.txt" \
    && pass "gradscope doctor RUN_DIR: vanishing" || { cat "$WORK/d.txt"; fail "gradscope doctor RUN_DIR"; }
  "$GS" doctor "$WORK/sig" --json > "$WORK/d.json" && out=$(json_shape "$WORK/d.json") && [ "${out%% *}" = vanishing ] \
    && pass "--json: documented shape, problem vanishing ($out)" || fail "--json: $out"
  # a format 3 file is read (judged without the format 4 parts); bad input is one line and exit 4 / 2
  "$GS" doctor "$GRADSCOPE_TESTS/fixtures/ckpt_v3.h5" > "$WORK/v3.txt" 2>&1 && grep -q "(format 3)" "$WORK/v3.txt" \
    && pass "gradscope doctor reads the format 3 fixture" || { cat "$WORK/v3.txt"; fail "doctor on the format 3 fixture"; }
  "$GS" doctor "$WORK/nothing" > "$WORK/e.txt" 2>&1; rc=$?
  [ $rc -eq 4 ] && [ "$(wc -l < "$WORK/e.txt")" -eq 1 ] && pass "a missing checkpoint: one line, exit 4" || fail "exit $rc: $(cat "$WORK/e.txt")"
  "$GS" doctor "$WORK/sig" --bogus > /dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] && pass "a bad option: exit 2" || fail "bad option: exit $rc"
  # the control: a healthy net is told nothing
  gs_mpi 1 train "$WORK/sig.ini" --set model.activation=relu --set model.init=he_normal --set optimizer.lr=0.01 \
    --set "checkpoint.dir=$WORK/ok" > "$WORK/ok.log" 2>&1 || fail "control run"
  grep -q "doctor step" "$WORK/ok.log" && { grep doctor "$WORK/ok.log"; fail "a healthy run was diagnosed"; } \
    || pass "the healthy control: no problem"
  ;;
ranks)
  for np in 1 2; do
    gs_mpi $np train "$WORK/sig.ini" --set doctor.mode=repair --set train.reproducible=true \
      --set "checkpoint.dir=$WORK/r$np" > "$WORK/r$np.log" 2>&1 || { cat "$WORK/r$np.log"; fail "repair at $np ranks"; }
    grep -q "doctor: repair 1 of 3 at step [0-9]*: vanishing -> --set " "$WORK/r$np.log" \
      && pass "$np ranks: one repair printed" || fail "$np ranks: no repair line"
  done
  grep -q "doctor: trial 1 of [23]: --set .*: loss [0-9.e+-]* after 100 steps" "$WORK/r1.log" \
    && pass "the repair tried the top remedies" || fail "no trial line"
  [ "$(grep -E 'doctor: (repair|trial)' "$WORK/r1.log")" = "$(grep -E 'doctor: (repair|trial)' "$WORK/r2.log")" ] \
    && pass "the same trials and repairs at 1 and 2 ranks" || fail "different trials or repairs"
  nrep=$(grep -c "doctor: repair [0-9]* of" "$WORK/r2.log")
  weights_equal "$WORK/r1/latest" "$WORK/r2/latest" 0 >/dev/null 2>&1 || \
    weights_equal "$(ls "$WORK"/r1/ckpt_*.h5 | tail -1)" "$(ls "$WORK"/r2/ckpt_*.h5 | tail -1)" 0 \
    && pass "1 and 2 ranks: the same repaired weights, bit for bit" || fail "repaired weights differ"
  "$PY" - "$(ls "$WORK"/r2/ckpt_*.h5 | tail -1)" "$nrep" <<'PYEOF' && pass "/doctor/repairs records it" || fail "/doctor/repairs"
import h5py, sys
f = h5py.File(sys.argv[1], "r")
assert f["doctor/repairs/step"].shape == (int(sys.argv[2]),), f["doctor/repairs/step"].shape
assert "trial losses after 100 steps" in f["doctor/repairs/evidence"][0].decode()
assert f["doctor/repairs/symptom"][0].decode() == "vanishing"
assert "=" in f["doctor/repairs/remedy"][0].decode()
PYEOF
  "$GS" doctor "$WORK/r2" --json > "$WORK/r2.json" && json_shape "$WORK/r2.json" > /dev/null \
    && "$PY" -c "import json,sys; r=json.load(open('$WORK/r2.json')); sys.exit(0 if len(r['repairs'])==$nrep else 1)" \
    && pass "gradscope doctor --json lists the $nrep repairs" || fail "doctor --json repairs"
  "$GS" inspect "$WORK/r2" | grep -q "^repair      step [0-9]*: vanishing -> --set " \
    && pass "inspect shows the repair" || fail "inspect: no repair line"
  "$GS" inspect "$WORK/r2" --json | "$PY" -c "import json,sys; r=json.load(sys.stdin); sys.exit(0 if r['repairs'][0]['symptom']=='vanishing' else 1)" \
    && pass "inspect --json lists the repair" || fail "inspect --json repairs"
  ;;
requeue)
  common=(--set doctor.mode=repair --set checkpoint.every_steps=50 --set checkpoint.keep=20)
  gs_mpi 1 train "$WORK/sig.ini" "${common[@]}" --set "checkpoint.dir=$WORK/straight" > "$WORK/s.log" 2>&1 \
    || { cat "$WORK/s.log"; fail "straight repaired run"; finish; }
  grep -q "doctor: repair 1" "$WORK/s.log" || fail "the straight run made no repair"
  gs_mpi 1 train "$WORK/sig.ini" "${common[@]}" --set "checkpoint.dir=$WORK/split" --set train.max_steps=250 \
    > "$WORK/p1.log" 2>&1 || { cat "$WORK/p1.log"; fail "first part"; finish; }
  grep -q "doctor: repair 1" "$WORK/p1.log" || fail "the first part made no repair"
  # the requeue: the original config, not the repaired one
  gs_mpi 1 train "$WORK/sig.ini" "${common[@]}" --set "checkpoint.dir=$WORK/split" --resume auto \
    > "$WORK/p2.log" 2>&1 || { cat "$WORK/p2.log"; fail "resume of a repaired run"; finish; }
  nrep=$(grep -c "doctor: repair [0-9]* of" "$WORK/p1.log")
  grep -qE "resume: the $nrep repairs? recorded in .*: --set " "$WORK/p2.log" \
    && pass "the resume applies the recorded repair" || { cat "$WORK/p2.log"; fail "no recorded repair applied"; }
  grep -q "doctor: repair" "$WORK/p2.log" && fail "the resumed run repaired again" || pass "no second repair"
  weights_equal "$(ls "$WORK"/straight/ckpt_*.h5 | tail -1)" "$(ls "$WORK"/split/ckpt_*.h5 | tail -1)" 0 \
    && pass "requeued repaired run = uninterrupted one, bit for bit" || fail "requeued run differs"
  ;;
exhausted)
  gs_mpi 2 train "$WORK/sig.ini" --set doctor.mode=repair --set doctor.max_repairs=0 > "$WORK/e.log" 2>&1; rc=$?
  [ $rc -eq 6 ] && pass "exit 6 when no repair is left" || { cat "$WORK/e.log"; fail "exit $rc, expected 6"; }
  grep -q "no repair left" "$WORK/e.log" && grep -q "doctor's report:" "$WORK/e.log" \
    && pass "a clear message and the report" || fail "no message or report"
  write_config "$WORK/x.ini" <<INI
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
dir = $WORK/nan
every_steps = 1
[stats]
every_steps = 1
INI
  gs_mpi 1 train "$WORK/x.ini" > "$WORK/x.log" 2>&1; rc=$?
  [ $rc -eq 5 ] || { cat "$WORK/x.log"; fail "exit $rc, expected 5 (non-finite)"; }
  "$GS" doctor "$WORK/nan" > "$WORK/n.txt" 2>&1 && grep -q "nonfinite_" "$WORK/n.txt" && grep -qE "^problem   (nonfinite|exploding)" "$WORK/n.txt" \
    && pass "gradscope doctor reads the incident record" || { cat "$WORK/n.txt"; fail "doctor on a non-finite stop"; }
  inc=$(ls "$WORK"/nan/nonfinite_*.h5 | head -1)
  "$GS" doctor "$inc" --json > "$WORK/n.json" && json_shape "$WORK/n.json" > /dev/null \
    && pass "gradscope doctor INCIDENT --json" || fail "doctor --json on the incident"
  ;;
*) fail "unknown mode $MODE" ;;
esac
finish
