#!/usr/bin/env bash
# test_watch_cli.sh: gradscope watch without a terminal, and on bad input.
#  - following a run as it trains: one plain line per record, no escape
#    code, the progress lines in order; it exits with the run, 0;
#  - a stop for a requeue: it follows on; the requeued job's records come,
#    and it exits at their end;
#  - a killed run (no end record): after --stale seconds it says the job
#    may have been killed, and follows on;
#  - a run that failed (non-finite): it exits 5, as the run did; --once
#    shows the failure and the non-finite layer, nulls as "-";
#  - bad input: no such path, a directory that is not a run, a run of
#    checkpoints without a stream, a stream of an older schema, of lines
#    that are no records: one line, exit 4; a half-written last line and
#    a line of garbage among the records: skipped, the rest shown; a wrong
#    command line: exit 2; --help: 0.
. "$(dirname "$0")/lib.sh"
cd "$WORK"
ESC=$(printf '\033')

write_config k.ini <<INI
[model]
layers = 2, 64, 64, 3
[data]
n_train = 4000
n_test = 200
[train]
epochs = 6
batch_size = 50
log_every = 10
[stats]
every_steps = 5
[checkpoint]
dir = runs/k
every_steps = 50
INI

# 1. a live run: the watch starts as the stream does and ends with the run
gs_mpi 2 train k.ini > k1.log 2>&1 &
run=$!
for _ in $(seq 300); do [ -s runs/k/metrics.jsonl ] && break; sleep 0.1; done
timeout 120 "$GS" watch runs/k --interval 0.2 > w1.txt 2> w1.err; rc=$?
wait $run || fail "the run: $(tail -3 k1.log)"
n_rec=$(wc -l < runs/k/metrics.jsonl)
[ $rc -eq 0 ] && [ "$(tail -1 w1.txt)" = "end at step 480: finished (exit 0)" ] \
  && pass "it follows the run to its end and exits 0: $(tail -1 w1.txt)" || fail "exit $rc: $(tail -2 w1.txt) $(cat w1.err)"
[ "$(wc -l < w1.txt)" -eq "$n_rec" ] && pass "one line per record ($n_rec)" || fail "$(wc -l < w1.txt) lines for $n_rec records"
grep -q "$ESC" w1.txt && fail "escape codes without a terminal" || pass "no escape codes"
[ "$(grep -c '^step [0-9]*/480 epoch' w1.txt)" -eq 48 ] && grep -q "^step 480/480 epoch 6 loss [0-9.]* acc [0-9.]* lr 0.05 [0-9]* samples/s ETA 0s$" w1.txt \
  && pass "the 48 progress lines: $(grep '^step 480' w1.txt)" || fail "progress lines: $(grep -c '^step' w1.txt)"
grep -q "^stats step 475: layer 0 healthy |g| " w1.txt && grep -q "^diagnosis step 0: all 3 layers healthy$" w1.txt \
  && grep -q "^eval step 80 epoch 1: test loss" w1.txt && grep -q "^checkpoint runs/k/ckpt_00000050.h5 (step 50)$" w1.txt \
  && pass "statistics, diagnosis, evaluation and checkpoint lines" || fail "record lines: $(head -5 w1.txt)"

# 2. stopped for a requeue: it follows on into the requeued job
GRADSCOPE_TEST_FAULT=0:100:signal gs_mpi 2 train k.ini --overwrite > k2.log 2>&1
timeout 120 "$GS" watch runs/k --interval 0.2 > w2.txt 2>&1 &
watch=$!
sleep 2
kill -0 $watch 2>/dev/null && grep -q "^end at step 101: stopped (exit 75).*following on" w2.txt \
  && pass "a stop for a requeue: it says so and follows on" || fail "after the stop: $(tail -2 w2.txt)"
gs_mpi 2 train k.ini --resume auto > k3.log 2>&1 || fail "the requeued run"
wait $watch; rc=$?
[ $rc -eq 0 ] && grep -q "^resume at step 101 from runs/k/ckpt_00000101.h5$" w2.txt && [ "$(tail -1 w2.txt)" = "end at step 480: finished (exit 0)" ] \
  && pass "the requeued job's records, to its end: exit 0" || fail "exit $rc: $(tail -3 w2.txt)"

# 3. a killed job writes no end record: said after --stale seconds
GRADSCOPE_TEST_FAULT=0:60:exit gs_mpi 2 train k.ini --overwrite > k4.log 2>&1
timeout 6 "$GS" watch runs/k --stale 2 --interval 0.2 > w3.txt 2>&1; rc=$?
[ $rc -eq 124 ] && grep -q "^no record for [0-9]*s, and the records came at most .* apart: the job may have been killed" w3.txt \
  && [ "$(grep -c 'may have been killed' w3.txt)" -eq 1 ] \
  && pass "a killed run: said once, and it follows on: $(tail -1 w3.txt | cut -c1-60)..." || fail "exit $rc: $(tail -2 w3.txt)"
"$GS" watch runs/k --once --stale 2 > o3.txt && grep -q "status  no record for" o3.txt && pass "--once: the same" || fail "--once: $(tail -3 o3.txt)"

# 4. a failed run: exit 5 as the run's; --once shows the non-finite layer
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
[optimizer]
lr = 0.1
momentum = 0
[checkpoint]
dir = runs/nan
every_steps = 1
[stats]
every_steps = 1
INI
gs_mpi 1 train nan.ini > nan.log 2>&1
"$GS" watch runs/nan > w4.txt 2>&1; rc=$?
[ $rc -eq 5 ] && tail -1 w4.txt | grep -q "failed (exit 5): step [0-9]*: .*non-finite" \
  && pass "a failed run: exit 5, as the run's: $(tail -1 w4.txt | cut -c1-80)..." || fail "exit $rc: $(tail -2 w4.txt)"
"$GS" watch runs/nan --once > o4.txt 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "^status  failed at step [0-9]* (exit 5)" o4.txt && grep -qE "  +- .*nonfinite" o4.txt \
  && pass "--once: the failure, and a non-finite layer's nulls as '-'" || fail "--once on the failed run: exit $rc: $(cat o4.txt)"

# 5. bad input
one_line() { # LABEL STATUS PATTERN -- command...
  local label=$1 want=$2 pattern=$3; shift 4
  "$@" > out.txt 2>&1; local rc=$?
  [ $rc -eq "$want" ] && [ "$(wc -l < out.txt)" -eq 1 ] && grep -q -- "$pattern" out.txt \
    && pass "$label: exit $rc, $(cat out.txt)" || fail "$label: exit $rc (expected $want): $(cat out.txt)"
}
one_line "no such path" 4 "nothing: No such file or directory" -- "$GS" watch nothing
mkdir plain
one_line "not a run" 4 "plain holds no metrics.jsonl: it is not a run directory" -- "$GS" watch plain
mkdir old && cp runs/k/ckpt_*.h5 old/
one_line "checkpoints, no stream" 4 "trained by a gradscope without the metrics stream" -- "$GS" watch old
mkdir v0 && printf '{"schema":0,"kind":"progress","step":10,"loss":1}\n%.0s' 1 2 3 > v0/metrics.jsonl
one_line "an older schema" 4 "its records are of schema 0, written by an older gradscope; this one reads schema 1" \
  -- "$GS" watch v0 --once
mkdir junk && printf 'hello\n\n' > junk/metrics.jsonl
one_line "no record at all" 4 "none of its 2 lines is a record" -- "$GS" watch junk
usage_error() { # LABEL PATTERN -- command...: exit 2, the first line says what, the usage follows
  local label=$1 pattern=$2; shift 3
  "$@" > out.txt 2>&1; local rc=$?
  [ $rc -eq 2 ] && head -1 out.txt | grep -q -- "$pattern" && grep -q "^usage: gradscope watch" out.txt \
    && pass "$label: exit 2, $(head -1 out.txt)" || fail "$label: exit $rc: $(cat out.txt)"
}
usage_error "a wrong option" "unexpected argument '--bogus'" -- "$GS" watch runs/k --bogus
usage_error "--stale without a number" "--stale x: expected a number of seconds" -- "$GS" watch runs/k --stale x
usage_error "no run directory" "no run directory given" -- "$GS" watch
"$GS" watch --help | grep -q "^usage: gradscope watch RUN_DIR" && pass "--help" || fail "--help"
# a line cut short (its writer killed mid-line) and one of garbage: skipped, the rest shown
mkdir torn && head -c -40 runs/nan/metrics.jsonl > torn/metrics.jsonl
sed -i '3i this is not json' torn/metrics.jsonl
"$GS" watch torn --once > o5.txt 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "1 unreadable line skipped" o5.txt && grep -q "^layer  shape" o5.txt \
  && ! grep -q "^status  failed" o5.txt && pass "a half-written last line waits, a garbage line is skipped: the rest shown" \
  || fail "torn: exit $rc: $(cat o5.txt)"
"$GS" watch torn --stale 1 > w5.txt 2>&1 & watch=$!
sleep 1.5
tail -c 40 runs/nan/metrics.jsonl >> torn/metrics.jsonl
wait $watch; rc=$?
[ $rc -eq 5 ] && tail -1 w5.txt | grep -q "failed (exit 5)" && grep -q "^line 3: not a record" w5.txt \
  && pass "the line, once finished, is read: the end, exit 5" || fail "the finished line: exit $rc: $(tail -2 w5.txt)"
finish
