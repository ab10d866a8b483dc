#!/usr/bin/env bash
# The screenshots of docs/report.md: a short Fashion-MNIST run and a
# vanishing 11-layer sigmoid run, each through `gradscope report` and
# headless Chromium (tests/test_report_browser.py); of each page the
# header, the gradient-norm heatmap, the gradient histograms, the verdict
# timeline and the doctor are kept, stacked and scaled to 700 px wide.
#   jobs/report_screenshots.sh [OUT_DIR]     (default docs/)
# Needs a build (jobs/build.sh), Debian's dataset-fashion-mnist, chromium,
# chromium-driver and python3-selenium (jobs/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs}
mkdir -p "$OUT"
GS=build/gradscope
PY=/usr/bin/python3
W=$(mktemp -d /tmp/gradscope-shots.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

FM=/usr/share/datasets/fashion-mnist
mkdir -p data
[ -f data/fashion-mnist-train.h5 ] ||
  $GS convert idx $FM/train-images-idx3-ubyte.gz $FM/train-labels-idx1-ubyte.gz data/fashion-mnist-train.h5
[ -f data/fashion-mnist-test.h5 ] ||
  $GS convert idx $FM/t10k-images-idx3-ubyte.gz $FM/t10k-labels-idx1-ubyte.gz data/fashion-mnist-test.h5
mpirun -np 2 $GS train jobs/configs/fashion_mnist.ini --set train.epochs=2 --set stats.every_steps=10 \
  --set "checkpoint.dir=$W/fashion-mnist" > "$W/fm.log"
cat > "$W/sig.ini" <<INI
[model]
layers = 2,32,32,32,32,32,32,32,32,32,32,3
activation = sigmoid
init = xavier_normal
[train]
epochs = 8
blas_threads = 1
log_every = 1000
[checkpoint]
dir = $W/sigmoid-vanishing
INI
$GS train "$W/sig.ini" > "$W/sig.log"

KEEP=summary,fig-grad-norm,fig-grad-hist,fig-verdicts,doctor
for run in fashion-mnist sigmoid-vanishing; do
  (cd "$W" && "$OLDPWD/$GS" report "$run" -o "$run.html" > /dev/null)   # the header names run/ckpt_*.h5
  $PY tests/test_report_browser.py "$W/$run.html" --expect "$KEEP" --screenshot "$W/$run.png" \
    --rects "$W/$run.json" > /dev/null
  $PY - "$W/$run.png" "$W/$run.json" "$KEEP" "$OUT/report-$run.png" <<'PYEOF'
import json, sys
from PIL import Image
shot, rects, keep, out = Image.open(sys.argv[1]).convert("RGB"), json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
parts = []
for fid in keep.split(","):
    x, y, w, h = rects[fid]
    parts.append(shot.crop((int(x) - 8, int(y) - 8, int(x + w) + 8, int(y + h) + 8)))
width = max(p.width for p in parts)
page = Image.new("RGB", (width, sum(p.height for p in parts)), "white")
y = 0
for p in parts:
    page.paste(p, (0, y))
    y += p.height
page = page.resize((700, round(page.height * 700 / width)), Image.LANCZOS)
page.save(out, optimize=True)   # full colour: a palette would re-map the colour scales
print("%s: %d x %d" % (out, page.width, page.height))
PYEOF
done
