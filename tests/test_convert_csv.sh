#!/usr/bin/env bash
# `gradscope convert csv`: real CSV files (a heredoc and Python's csv module)
# convert to /X and /y equal to numpy's own reading of the same file
# (np.loadtxt with quotechar): string labels as sorted classes with their
# names in /y's `classes`, integer labels as they are, other numbers as
# float targets [N, 1]; --label by name and index, --no-header, --delimiter,
# quoted fields holding delimiters, quotes and line breaks, CRLF and a BOM.
# Then `gradscope train` runs a few steps on two of the outputs.
. "$(dirname "$0")/lib.sh"

# check OUT.h5 IN.csv DELIM LABEL_INDEX HEADER(0|1) KIND(names|int|float) [ENCODING]
check() {
  "$PY" - "$@" <<'PYEOF'
import sys, h5py, numpy as np
out, src, delim, label, header, kind = sys.argv[1:7]
enc = sys.argv[7] if len(sys.argv) > 7 else "utf-8"
label = int(label)
# numpy's reading of the same file: every cell as text, then numbers
cells = np.loadtxt(src, delimiter=delim, quotechar='"', dtype=str, skiprows=int(header),
                   encoding=enc, ndmin=2)
feats = np.delete(cells, label, axis=1).astype(np.float64).astype(np.float32)
labels = cells[:, label]
bad = []
with h5py.File(out, "r") as f:
    X, y = f["X"], f["y"]
    if X.dtype != np.float32 or X.shape != feats.shape:
        bad.append(f"/X is {X.dtype} {X.shape}, expected float32 {feats.shape}")
    elif not np.array_equal(X[()], feats):
        bad.append(f"/X differs from np.loadtxt in {np.sum(X[()] != feats)} cells")
    if kind == "names":
        names, idx = np.unique(labels, return_inverse=True)
        got = [c.decode() if isinstance(c, bytes) else str(c) for c in y.attrs.get("classes", [])]
        if got != list(names):
            bad.append(f"classes {got}, expected {list(names)}")
        if y.shape != (len(labels),) or y.dtype.kind != "i" or not np.array_equal(y[()], idx):
            bad.append(f"/y {y.dtype} {y.shape} {y[()][:8]}, expected {idx[:8]}")
    elif kind == "int":
        want = labels.astype(np.float64).astype(np.int64)
        if y.shape != want.shape or y.dtype != np.int64 or not np.array_equal(y[()], want):
            bad.append(f"/y {y.dtype} {y.shape} {y[()][:8]}, expected int64 {want[:8]}")
        if "classes" in y.attrs:
            bad.append("integer labels have a classes attribute")
    else:
        want = labels.astype(np.float64).astype(np.float32).reshape(-1, 1)
        if y.shape != want.shape or y.dtype != np.float32 or not np.array_equal(y[()], want):
            bad.append(f"/y {y.dtype} {y.shape} {y[()][:4].ravel()}, expected float32 {want.shape}")
    if f.attrs.get("format") != b"gradscope-input":
        bad.append(f"root attribute format is {f.attrs.get('format')}")
for b in bad:
    print(b)
print(f"{len(labels)} rows x {feats.shape[1]} features, labels as {kind}: "
      + ("equal to np.loadtxt" if not bad else "DIFFERENT"))
sys.exit(1 if bad else 0)
PYEOF
}

# convert LABEL OUT IN [options]: the conversion must succeed and leave no
# .tmp (it prints its failure; the caller's `|| fail` counts it)
convert() {
  local label=$1 out=$2; shift 2
  if ! msg=$("$GS" convert csv "$@" 2>&1); then echo "$label: convert failed: $msg"; return 1; fi
  [ -e "$out.tmp" ] && { echo "$label: $out.tmp left behind"; return 1; }
  echo "$msg"
}

# 1. string labels, a header, quoted fields with the delimiter, a doubled
#    quote and a line break inside, a quoted number, spaces around numbers
cat > "$WORK/iris.csv" <<'EOF'
sepal_length,sepal_width,petal_length,petal_width,species
5.1,3.5,1.4,0.2,setosa
7.0,3.2,4.7,1.4,versicolor
6.3,3.3,6.0,2.5,virginica
"4.9", 3.0 ,1.4,0.2,"setosa"
5.5,2.3,4.0,1.3,"versicolor, ""tall""
second line"
6.5,3.0,5.8,2.2,virginica

" 5.7 ",2.8,4.1,1.3,versicolor
4.6,3.1,1.5,0.2,setosa
EOF
convert "names" "$WORK/iris.h5" "$WORK/iris.csv" "$WORK/iris.h5" &&
  check "$WORK/iris.h5" "$WORK/iris.csv" , 4 1 names && pass "string labels: sorted classes, names in /y classes" \
  || fail "string labels: sorted classes, names in /y classes: see above"
"$PY" -c "
import h5py, sys
c = list(h5py.File('$WORK/iris.h5')['y'].attrs['classes'])
sys.exit(0 if c == ['setosa', 'versicolor', 'versicolor, \"tall\"\nsecond line', 'virginica'] else 1)" \
  && pass "a quoted label keeps its delimiter, doubled quote and line break" || fail "quoted label mangled"

# 2. the label column by name, by index, first column; integer labels
cat > "$WORK/int.csv" <<'EOF'
digit,a,b,c
3,0.5,-1.25,1e-3
0,1.5,2.5,3.5
9,-0.0,7,8
3,1,2,3
EOF
convert "int by name" "$WORK/int.h5" "$WORK/int.csv" "$WORK/int.h5" --label digit &&
  check "$WORK/int.h5" "$WORK/int.csv" , 0 1 int && pass "--label NAME: integer labels stay int64" \
  || fail "--label NAME: integer labels stay int64: see above"
convert "int by index" "$WORK/int0.h5" "$WORK/int.csv" "$WORK/int0.h5" --label 0 &&
  check "$WORK/int0.h5" "$WORK/int.csv" , 0 1 int && pass "--label 0: the same column by its index" \
  || fail "--label 0: the same column by its index: see above"

# 3. float targets (regression), semicolons, no header, written by Python's csv module
"$PY" - "$WORK/reg.csv" <<'PYEOF'
import csv, sys, numpy as np
rng = np.random.default_rng(7)
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f, delimiter=";")
    for i in range(257):
        x = rng.standard_normal(3)
        w.writerow([f"{v:.9g}" for v in x] + [f"{x.sum() * 0.5 + 0.125:.6f}"])
PYEOF
convert "float" "$WORK/reg.h5" "$WORK/reg.csv" "$WORK/reg.h5" --no-header --delimiter ';' &&
  check "$WORK/reg.h5" "$WORK/reg.csv" ';' 3 0 float && pass "--no-header --delimiter ';': float targets [N, 1]" \
  || fail "--no-header --delimiter ';': float targets [N, 1]: see above"

# 4. tab-separated, Windows line endings and a UTF-8 byte-order mark
printf '\xef\xbb\xbfx1\tx2\tlabel\r\n1.5\t2\tb\r\n3\t4.25\ta\r\n-1\t0\tb\r\n' > "$WORK/tab.tsv"
convert "tab" "$WORK/tab.h5" "$WORK/tab.tsv" "$WORK/tab.h5" --delimiter tab &&
  check "$WORK/tab.h5" "$WORK/tab.tsv" $'\t' 2 1 names utf-8-sig && pass "tabs, CRLF and a BOM" \
  || fail "tabs, CRLF and a BOM: see above"

# 5. Python's csv module quoting everything (QUOTE_ALL), labels with commas
"$PY" - "$WORK/quoted.csv" <<'PYEOF'
import csv, sys, numpy as np
rng = np.random.default_rng(3)
names = ["red, dark", 'say "hi"', "multi\nline", "plain"]
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f, quoting=csv.QUOTE_ALL)
    w.writerow(["f0", "f,1", "class"])
    for i in range(100):
        w.writerow([f"{rng.random():.8g}", f"{rng.random() * 100:.3f}", names[i % 4]])
PYEOF
convert "quote all" "$WORK/quoted.h5" "$WORK/quoted.csv" "$WORK/quoted.h5" --label class &&
  check "$WORK/quoted.h5" "$WORK/quoted.csv" , 2 1 names && pass "QUOTE_ALL with delimiters, quotes and line breaks in fields" \
  || fail "QUOTE_ALL with delimiters, quotes and line breaks in fields: see above"

# 6. the outputs train: classes (softmax) and targets (linear)
printf '[model]\nlayers = 4, 16, 4\n[data]\nsynthetic = none\ntrain = %s\n[train]\nepochs = 3\nmax_steps = 6\nbatch_size = 4\nlog_every = 1\n[checkpoint]\ndir =\n' \
  "$WORK/iris.h5" > "$WORK/iris.ini"
out=$(gs_mpi 2 train "$WORK/iris.ini" 2>&1) && echo "$out" | grep -q "done: 6 steps" \
  && pass "2 ranks train 6 steps on the CSV's classes" || fail "training on iris.h5: $(echo "$out" | tail -3)"
printf '[model]\nlayers = 3, 8, 1\noutput = linear\n[data]\nsynthetic = none\ntrain = %s\n[train]\nepochs = 1\nmax_steps = 5\nbatch_size = 16\nlog_every = 1\n[checkpoint]\ndir =\n' \
  "$WORK/reg.h5" > "$WORK/reg.ini"
out=$("$GS" train "$WORK/reg.ini" 2>&1) && echo "$out" | grep -q "done: 5 steps" \
  && pass "1 rank trains 5 steps on the CSV's float targets" || fail "training on reg.h5: $(echo "$out" | tail -3)"
finish
