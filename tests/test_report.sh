#!/usr/bin/env bash
# test_report.sh MODE: `gradscope report` on real runs (docs/report.md).
#   browser  a 4-layer tanh net trained on the spiral on 2 ranks, stats every
#            5 steps -> gradscope report -> the file exists, is
#            self-contained (nothing from the network: no http(s) src/href,
#            no <script src>, no stylesheet link, no CSS url(), no address
#            but the SVG namespaces' names), holds every
#            chart as inline SVG and the header's numbers from the
#            checkpoint; then headless Chromium (test_report_browser.py)
#            loads it with no console error and every figure is drawn (not
#            blank in a screenshot). Skips (77) only without chromium or
#            chromedriver.
#   content  an 11-layer sigmoid net that vanishes: the report names the
#            doctor's problem, cause and --set remedies, and the verdict
#            timeline shows the vanishing layers.
#   bad      bad input, each one clear message: a directory that is not a
#            run, a missing path, a file that is not HDF5, no argument (exit
#            4, 4, 4, 2); an unwritable output (1); a run still being
#            written (half-written metrics line skipped, a resume record
#            obeyed); older formats (fixtures v1, v3: no histograms, a note);
#            a run that went non-finite (the incident record is shown, the
#            finite values drawn, the rest counted); a damaged newest
#            checkpoint (the one before is shown); no doctor binary; the
#            interpreter or the installed script missing (exit 1).
#   $2 $3 (bad): the build directory and cmake, for the installed layout.
. "$(dirname "$0")/lib.sh"
SRC=${GRADSCOPE_SRC:?GRADSCOPE_SRC is not set (run through ctest)}
TESTS=${GRADSCOPE_TESTS:-$SRC/tests}
MODE=$1
# the charts every run with statistics has (the histograms only from format 5)
CHARTS=fig-loss,fig-accuracy,fig-lr,fig-grad-norm,fig-update-ratio,fig-activations,fig-dead-saturated,fig-verdicts

# self_contained FILE: nothing in it is fetched from anywhere else
self_contained() {
  "$PY" - "$1" <<'PYEOF'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
bad = []
for pat, what in ((r'''\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//''', "a src/href to the network"),
                  (r"<script[^>]*\bsrc\s*=", "a <script src>"),
                  (r"<link[^>]*stylesheet", "a stylesheet link"),
                  (r"<link[^>]*\bhref\s*=", "a <link href>"),
                  (r"url\(\s*['\"]?\s*(?:https?:)?//", "a CSS url() to the network"),
                  (r"@import", "a CSS @import"),
                  (r"<iframe|<object|<embed", "an embedded document"),
                  (r'''\b(?:src|href)\s*=\s*["']?(?!#|data:)[\w./-]+\.(?:png|svg|js|css|woff2?|ttf)''', "a reference to a local file")):
    m = re.search(pat, page, re.I)
    if m:
        bad.append("%s: ...%s..." % (what, page[max(m.start() - 40, 0):m.end() + 40]))
# and no address at all, but the SVG namespace names (never fetched)
for m in re.finditer(r"https?://[^\s\"'<>)]*", page):
    if not re.search(r'xmlns(?::\w+)?="$', page[max(m.start() - 20, 0):m.start()]):
        bad.append("an address: ...%s..." % page[max(m.start() - 40, 0):m.end() + 20])
        break
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PYEOF
}

# has_charts FILE IDS: each id is a <figure> holding an inline <svg>
has_charts() {
  "$PY" - "$1" "$2" <<'PYEOF'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
missing = []
for fid in sys.argv[2].split(","):
    m = re.search(r'<figure id="%s">(.*?)</figure>' % re.escape(fid), page, re.S)
    if not m or "<svg" not in m.group(1):
        missing.append(fid)
print("missing or without a chart: %s" % ", ".join(missing) if missing else "every chart present")
sys.exit(1 if missing else 0)
PYEOF
}

train() { # NP CONFIG [ARGS...]: a real run, its log kept
  local np=$1 ini=$2; shift 2
  gs_mpi "$np" train "$ini" "$@" > "$WORK/train.log" 2>&1 || { tail -5 "$WORK/train.log"; fail "training $ini $*"; finish; }
}

case $MODE in
browser)
  write_config "$WORK/tanh.ini" <<INI
[model]
layers = 2,24,24,24,3
activation = tanh
init = xavier_normal
[data]
synthetic = spiral
validation_fraction = 0.1
[train]
epochs = 6
blas_threads = 1
log_every = 50
[stats]
every_steps = 5
[checkpoint]
dir = $WORK/run
every_steps = 100
INI
  train 2 "$WORK/tanh.ini"
  "$GS" report "$WORK/run" -o "$WORK/report.html" > "$WORK/out.txt" 2> "$WORK/err.txt"; rc=$?
  [ $rc -eq 0 ] && [ -s "$WORK/report.html" ] && [ "$(cat "$WORK/out.txt")" = "$WORK/report.html" ] \
    && pass "gradscope report wrote $(wc -c < "$WORK/report.html") bytes" || { cat "$WORK/err.txt"; fail "report: exit $rc"; finish; }
  self_contained "$WORK/report.html" && pass "self-contained: nothing fetched from the network or beside it" \
    || fail "the report is not self-contained"
  out=$(has_charts "$WORK/report.html" "$CHARTS") && pass "$out" || fail "$out"
  # the header says what the checkpoint says
  "$PY" - "$(latest_ckpt "$WORK/run")" "$WORK/report.html" <<'PYEOF' && pass "header: steps, ranks, format, final accuracy from the checkpoint" || fail "header differs from the checkpoint"
import h5py, re, sys
f, page = h5py.File(sys.argv[1], "r"), open(sys.argv[2]).read()
step, ranks, fmt = int(f.attrs["step"]), int(f.attrs["n_ranks"]), int(f.attrs["format_version"])
acc = f["history/eval/accuracy"][-1]
want = ["<th>steps</th><td>%d (epoch" % step, "<th>ranks</th><td>%d (" % ranks, "(format %d" % fmt,
        "<th>final test accuracy</th><td>%.4f" % acc, "2-(24 x3)-3; tanh"]
miss = [w for w in want if w not in page]
print("missing:", miss) if miss else None
sys.exit(1 if miss else 0)
PYEOF
  # the histograms: charts where the checkpoint has them, else the note
  if "$PY" -c "import h5py,sys; sys.exit(0 if 'history/stats/grad_hist' in h5py.File(sys.argv[1],'r') else 1)" "$(latest_ckpt "$WORK/run")"; then
    HIST=fig-grad-hist,fig-preact-hist
    out=$(has_charts "$WORK/report.html" $HIST) && pass "histograms: $out" || fail "histograms: $out"
  else
    HIST=
    grep -q "no histograms in this checkpoint (format 4)" "$WORK/report.html" && pass "no histograms in format 4: said so" \
      || fail "format 4 without histograms: no note"
  fi
  [ -f "$WORK/run/metrics.jsonl" ] && CHARTS=$CHARTS,fig-throughput
  "$PY" "$TESTS/test_report_browser.py" "$WORK/report.html" --charts "$CHARTS${HIST:+,$HIST}" \
    --expect "summary,$CHARTS,fig-grad-hist,fig-preact-hist,doctor" --screenshot "$WORK/shot.png"; rc=$?
  # no browser: skipped, unless a check above already failed
  [ $rc -eq 77 ] && { [ "$fails" -gt 0 ] && finish; exit 77; }
  [ $rc -eq 0 ] && pass "headless Chromium: no console error, every figure drawn" || fail "browser checks (exit $rc)"
  ;;
content)
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
  train 1 "$WORK/sig.ini"
  "$GS" report "$WORK/sig" -o "$WORK/sig.html" > /dev/null 2> "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "report"; finish; }
  "$GS" doctor "$WORK/sig" --json > "$WORK/d.json" || fail "gradscope doctor --json"
  "$PY" - "$WORK/d.json" "$WORK/sig.html" <<'PYEOF' && pass "the doctor's problem, cause and every remedy are in the report" || fail "doctor section"
import html, json, re, sys
d, page = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
sec = re.search(r'<section id="doctor">(.*?)</section>', page, re.S)
assert sec, "no doctor section"
sec = html.unescape(sec.group(1))
assert d["problem"] == "vanishing", d["problem"]
assert "problem: vanishing" in sec and d["cause"] in sec, sec[:400]
assert d["remedies"], "the doctor offers no remedy"
for m in d["remedies"]:
    assert "--set " + " ".join(m["set"]) in sec, m
for s in d["symptoms"]:
    assert s["evidence"] in sec, s
PYEOF
  # the verdict timeline's legend and the header name the vanishing layers
  "$PY" - "$WORK/sig.html" <<'PYEOF' && pass "verdict timeline shows vanishing; header lists the vanishing layers" || fail "verdict timeline"
import re, sys
page = open(sys.argv[1]).read()
fig = re.search(r'<figure id="fig-verdicts">(.*?)</figure>', page, re.S).group(1)
assert ">vanishing<" in fig and ">healthy<" in fig, "legend lacks vanishing/healthy"
assert re.search(r"verdicts at the last record</th><td>0 vanishing, 1 vanishing", page), "header"
PYEOF
  ;;
bad)
  BUILD=$2 CMAKE=$3
  one_line() { # RC WANT FILE PATTERN WHAT
    if [ "$1" -eq "$2" ] && [ "$(grep -c . "$3")" -eq 1 ] && grep -q "$4" "$3"; then pass "$5: exit $1, one line"
    else fail "$5: exit $1 (want $2): $(cat "$3")"; fi
  }
  mkdir -p "$WORK/notarun"; echo hello > "$WORK/notarun/readme.txt"
  "$GS" report "$WORK/notarun" -o "$WORK/x.html" > /dev/null 2> "$WORK/e.txt"
  one_line $? 4 "$WORK/e.txt" "is not a gradscope run directory" "a directory that is not a run"
  "$GS" report "$WORK/nothing" > /dev/null 2> "$WORK/e.txt"
  one_line $? 4 "$WORK/e.txt" "nothing does not exist" "a missing path"
  "$GS" report "$WORK/notarun/readme.txt" > /dev/null 2> "$WORK/e.txt"
  one_line $? 4 "$WORK/e.txt" "readme.txt is not a readable HDF5 file" "a file that is not HDF5"
  [ ! -e "$WORK/x.html" ] && pass "no report left by a failure" || fail "a failed report left $WORK/x.html"
  "$GS" report > /dev/null 2> "$WORK/e.txt"; rc=$?
  [ $rc -eq 2 ] && grep -q "^usage: gradscope report" "$WORK/e.txt" && pass "no argument: exit 2 with the usage" \
    || fail "no argument: exit $rc: $(cat "$WORK/e.txt")"
  h=$("$GS" report --help); rc=$?
  [ $rc -eq 0 ] && echo "$h" | grep -q "^usage: gradscope report" && pass "--help: exit 0, the usage on stdout" \
    || fail "report --help: exit $rc"

  write_config "$WORK/ok.ini" <<INI
[model]
layers = 2,16,16,3
[data]
synthetic = spiral
[train]
epochs = 3
blas_threads = 1
log_every = 1000
[stats]
every_steps = 5
[checkpoint]
dir = $WORK/run
every_steps = 50
keep = 3
INI
  train 1 "$WORK/ok.ini"
  "$GS" report "$WORK/run" -o /nonexistent-dir/r.html > /dev/null 2> "$WORK/e.txt"
  one_line $? 1 "$WORK/e.txt" "cannot write /nonexistent-dir/r.html" "an unwritable output"

  # a run still being written: its stream's last line is half-written; a
  # resume at step 20 drops the records after it read before it
  # (docs/metrics.md's records, cut to what the report reads); a record of
  # another schema is skipped
  cat > "$WORK/run/metrics.jsonl" <<'JSONL'
{"schema": 1, "kind": "start", "step": 0}
{"schema": 1, "kind": "progress", "step": 10, "samples_per_s": 1000.0}
{"schema": 1, "kind": "progress", "step": 30, "samples_per_s": 9999.0}
{"schema": 1, "kind": "resume", "step": 20}
{"schema": 1, "kind": "progress", "step": 30, "samples_per_s": 3000.0}
{"schema": 2, "kind": "progress", "step": 35, "samples_per_s": 5.0}
not json at all
{"schema": 1, "kind": "progress", "step": 40, "samp
JSONL
  printf '%s' "$(cat "$WORK/run/metrics.jsonl")" > "$WORK/run/m" && mv "$WORK/run/m" "$WORK/run/metrics.jsonl"  # no final newline
  "$GS" report "$WORK/run" -o "$WORK/live.html" > /dev/null 2> "$WORK/e.txt"; rc=$?
  [ $rc -eq 0 ] && grep -q "half-written" "$WORK/e.txt" && grep -q "half-written" "$WORK/live.html" \
    && pass "a half-written metrics line: skipped, said so, exit 0" || fail "half-written line: exit $rc: $(cat "$WORK/e.txt")"
  grep -q "1 line of metrics.jsonl" "$WORK/e.txt" && pass "a line that is not JSON: skipped and counted" || fail "bad line not counted: $(cat "$WORK/e.txt")"
  grep -q "1 record of metrics.jsonl of a schema other than 1" "$WORK/e.txt" && pass "a record of another schema: skipped and counted" \
    || fail "other schema not counted: $(cat "$WORK/e.txt")"
  "$PY" - "$WORK/live.html" <<'PYEOF' && pass "samples/s: the records after the resume replace those before" || fail "metrics resume semantics"
import re, sys
fig = re.search(r'<figure id="fig-throughput">(.*?)</figure>', open(sys.argv[1]).read(), re.S)
assert fig and "<svg" in fig.group(1), "no samples/s chart"
PYEOF
  (cd "$SRC/jobs" && "$PY" -c "
import sys, report
notes = []
m = report.Metrics(sys.argv[1], notes)
assert m.throughput == [(10, 1000.0), (30, 3000.0)], m.throughput
assert [r['kind'] for r in m.records] == ['start', 'progress', 'resume', 'progress'], m.records
" "$WORK/run/metrics.jsonl") && pass "the stream reader keeps 10 and the replayed 30, drops the pre-resume 30" \
    || fail "the stream reader"
  rm "$WORK/run/metrics.jsonl"
  out=$(has_charts "$WORK/live.html" "$CHARTS") && pass "a run being written still renders: $out" || fail "$out"

  # a damaged newest checkpoint: the one before it is shown, the skip said
  newest=$(latest_ckpt "$WORK/run")
  cp "$newest" "$WORK/newest.bak"
  head -c 3000 "$WORK/newest.bak" > "$newest"
  "$GS" report "$WORK/run" -o "$WORK/damaged.html" > /dev/null 2> "$WORK/e.txt"; rc=$?
  prev=$(ls "$WORK"/run/ckpt_*.h5 | sort | tail -2 | head -1)
  [ $rc -eq 0 ] && grep -q "skipped $newest" "$WORK/e.txt" && grep -q "<td>$prev (format" "$WORK/damaged.html" \
    && pass "a damaged newest checkpoint: $(basename "$prev") shown instead, the skip said" \
    || fail "damaged newest: exit $rc: $(cat "$WORK/e.txt")"
  "$GS" report "$newest" -o "$WORK/x.html" > /dev/null 2> "$WORK/e.txt"
  one_line $? 4 "$WORK/e.txt" "$(basename "$newest")" "the damaged checkpoint itself"
  cp "$WORK/newest.bak" "$newest"

  # no doctor binary: the report is made, and says the findings are missing
  "$PY" "$SRC/jobs/report.py" "$WORK/run" -o "$WORK/nodoc.html" --gradscope /nonexistent/gradscope > /dev/null 2> "$WORK/e.txt"; rc=$?
  [ $rc -eq 0 ] && grep -q "gradscope doctor could not run" "$WORK/nodoc.html" \
    && pass "no doctor binary: rendered without its findings, said so" || fail "no doctor: exit $rc: $(cat "$WORK/e.txt")"

  # older formats: no histograms (a note), verdicts of the last record only
  for v in 1 3 4; do
    [ -f "$TESTS/fixtures/ckpt_v$v.h5" ] || continue
    cp "$TESTS/fixtures/ckpt_v$v.h5" "$WORK/v$v.h5"
    "$GS" report "$WORK/v$v.h5" > "$WORK/o.txt" 2> "$WORK/e.txt"; rc=$?
    # before format 4 only the last record's verdicts are stored
    [ $v -ge 4 ] || grep -q "stores the verdicts of the last record only" "$WORK/v$v.html" || fail "format $v: no note on the verdicts"
    [ $rc -eq 0 ] && [ -s "$WORK/v$v.html" ] && grep -q "no histograms in this checkpoint (format $v)" "$WORK/v$v.html" \
      && pass "format $v: rendered (default output $WORK/v$v.html), no histograms said" \
      || fail "format $v: exit $rc: $(cat "$WORK/e.txt")"
    out=$(has_charts "$WORK/v$v.html" fig-loss,fig-grad-norm,fig-verdicts) && pass "format $v: $out" || fail "format $v: $out"
  done

  # format 5, but the run took no histograms: said so, not blamed on the format
  if "$GS" config "$WORK/ok.ini" --set stats.histograms=false > /dev/null 2>&1; then
    train 1 "$WORK/ok.ini" --set stats.histograms=false --set "checkpoint.dir=$WORK/nohist"
    "$GS" report "$WORK/nohist" > /dev/null 2> "$WORK/e.txt"; rc=$?
    [ $rc -eq 0 ] && grep -q "the run took none (\[stats\] histograms = false)" "$WORK/nohist/report.html" \
      && pass "histograms off: said so (default output RUN_DIR/report.html)" || fail "histograms off: exit $rc: $(cat "$WORK/e.txt")"
  fi

  # a run that went non-finite: the incident record is shown, what is finite drawn
  layers="16$(printf ', 64%.0s' $(seq 19)), 4"
  write_config "$WORK/nf.ini" <<INI
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
[optimizer]
lr = 0.1
momentum = 0
[checkpoint]
dir = $WORK/nf
every_steps = 1
[stats]
every_steps = 1
INI
  gs_mpi 1 train "$WORK/nf.ini" > "$WORK/nf.log" 2>&1; rc=$?
  [ $rc -eq 5 ] && ls "$WORK"/nf/nonfinite_*.h5 > /dev/null 2>&1 || { tail -3 "$WORK/nf.log"; fail "the non-finite run: exit $rc"; }
  "$GS" report "$WORK/nf" -o "$WORK/nf.html" > /dev/null 2> "$WORK/e.txt"; rc=$?
  [ $rc -eq 0 ] && grep -q "shows its incident record nonfinite_" "$WORK/nf.html" \
    && pass "a non-finite run: its incident record is shown" || fail "non-finite run: exit $rc: $(cat "$WORK/e.txt")"
  grep -qE "[0-9]+ non-finite norms marked" "$WORK/nf.html" && pass "non-finite gradient norms counted in the caption" \
    || fail "no count of non-finite norms"
  grep -q "could not be drawn" "$WORK/nf.html" && fail "a chart failed on non-finite values" || pass "every chart drawn"
  out=$(has_charts "$WORK/nf.html" fig-loss,fig-grad-norm,fig-activations,fig-verdicts) && pass "non-finite: $out" || fail "non-finite: $out"
  grep -q ">nonfinite<" "$WORK/nf.html" && pass "the verdict timeline shows nonfinite" || fail "no nonfinite verdict shown"

  # the interpreter, the installed script
  GRADSCOPE_PYTHON=/nonexistent/python3 "$GS" report "$WORK/run" > /dev/null 2> "$WORK/e.txt"
  one_line $? 1 "$WORK/e.txt" "cannot run the Python interpreter /nonexistent/python3 (from GRADSCOPE_PYTHON)" "no interpreter"
  "$CMAKE" --install "$BUILD" --prefix "$WORK/prefix" > "$WORK/install.log" 2>&1 || { tail -3 "$WORK/install.log"; fail "cmake --install"; }
  "$WORK/prefix/bin/gradscope" report "$WORK/run" -o "$WORK/inst.html" > /dev/null 2> "$WORK/e.txt"; rc=$?
  [ $rc -eq 0 ] && grep -q "no problem found\|problem: " "$WORK/inst.html" \
    && pass "installed: share/gradscope/report.py runs, with the installed doctor" || fail "installed: exit $rc: $(cat "$WORK/e.txt")"
  rm "$WORK/prefix/share/gradscope/report.py"
  "$WORK/prefix/bin/gradscope" report "$WORK/run" > /dev/null 2> "$WORK/e.txt"
  one_line $? 1 "$WORK/e.txt" "report script .*share/gradscope/report.py is missing" "installed without its script"
  ;;
*) echo "usage: test_report.sh browser|content|bad [BUILD_DIR CMAKE]"; exit 2 ;;
esac
finish
