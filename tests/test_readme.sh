#!/usr/bin/env bash
# The README's "Train on your own data" works as written: its commands and
# its config, taken from README.md itself, run on a 150-row iris-like CSV
# file (convert, train on 2 ranks, eval, predict, export), each exits 0 and
# leaves what it says; run a second time, train is refused (exit 2), as the
# README says, and the README's first command's script passes --overwrite.
. "$(dirname "$0")/lib.sh"
SRC=${GRADSCOPE_SRC:?GRADSCOPE_SRC is not set (run through ctest)}
cd "$WORK"

# the section's fenced blocks: block_N.sh / block_N.ini, in order
"$PY" - "$SRC/README.md" <<'PYEOF' || fail "cannot find the section's code blocks"
import re, sys
text = open(sys.argv[1]).read()
sec = text.split("## Train on your own data", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```(\w+)\n(.*?)```", sec, re.S)
assert [k for k, _ in blocks] == ["sh", "ini", "sh"], [k for k, _ in blocks]
for i, (kind, body) in enumerate(blocks):
    open("block_%d.%s" % (i, kind), "w").write(body)
PYEOF
"$PY" - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(0)
names = ["setosa", "versicolor", "virginica"]
centre = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
with open("iris.csv", "w") as f:
    f.write("sepal_length,sepal_width,petal_length,petal_width,species\n")
    for i in range(150):
        k = i % 3
        f.write(",".join("%.1f" % v for v in centre[k] + 0.3 * rng.normal(size=4)) + "," + names[k] + "\n")
PYEOF
cp block_1.ini iris.ini
# the commands as a user types them, with this build's binaries
commands() {
  grep -v '^#' "$1" | sed -e "s|build/gradscope|$GS|g" -e "s|/usr/bin/python3 jobs/|$PY $SRC/jobs/|g" \
    -e "s|^mpirun |$MPIEXEC ${GS_MPI_FLAGS:-} |"
}
commands block_0.sh > run.sh
commands block_2.sh >> run.sh
[ "$(grep -c . run.sh)" -ge 5 ] || fail "the section has fewer commands than convert, train, eval, predict, export: $(cat run.sh)"
while read -r line; do
  [ -n "$line" ] || continue
  timeout 300 bash -c "$line" < /dev/null > out.txt 2>&1; rc=$?  # (mpirun would eat the list)
  [ $rc -eq 0 ] && pass "README: $(echo "$line" | sed "s|$GS|gradscope|; s|$SRC/||; s| *#.*||") ($(tail -1 out.txt | cut -c1-80))" \
    || fail "README command exits $rc: $line: $(tail -3 out.txt)"
done < run.sh
[ -f iris.h5 ] && ls runs/iris/ckpt_*.h5 > /dev/null 2>&1 && [ -s pred.csv ] && [ -s iris.pt ] \
  && pass "README: iris.h5, checkpoints, pred.csv and iris.pt exist" || fail "README: missing outputs: $(ls)"
[ "$(wc -l < pred.csv)" -eq 151 ] && head -1 pred.csv | grep -q "^class,class_name,p_setosa" \
  && pass "README: pred.csv has a header and 150 rows" || fail "pred.csv: $(head -2 pred.csv)"
# again: refused, with the ways out the README names
train=$(grep ' train ' run.sh)
bash -c "$train" > again.txt 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q -- "--resume auto" again.txt && grep -q -- "--overwrite" again.txt \
  && pass "README: training again into runs/iris is refused (exit 2) with --resume auto and --overwrite offered" \
  || fail "second train: exit $rc: $(cat again.txt)"
grep -q -- '--overwrite' "$SRC/jobs/fashion_mnist.sh" && pass "jobs/fashion_mnist.sh passes --overwrite: it can run twice" \
  || fail "jobs/fashion_mnist.sh would be refused the second time"
[ "$(wc -l < "$SRC/README.md")" -le 300 ] && pass "README.md: $(wc -l < "$SRC/README.md") lines" || fail "README.md is longer than 300 lines"
finish
