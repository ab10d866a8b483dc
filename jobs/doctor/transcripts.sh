#!/usr/bin/env bash
# jobs/doctor/transcripts.sh [OUTDIR]: the five situations of the doctor's
# issue (#19), each trained three times on 1 rank:
#   advise   [doctor] mode = advise: the problem, the cause and remedy 1
#            as `gradscope doctor --json` gives them;
#   applied  the same config with remedy 1's --set overrides, doctor off:
#            does the advice train?
#   repair   mode = repair: what the job did to itself, and where it ended.
# The five (reconstructed from the issue's descriptions; its own configs
# were not kept):
#   sigmoid11   an 11-layer sigmoid net with xavier_normal on the spiral
#   relu_lr     relu + he_normal at lr 0.05, 30 x 128 on a Fashion-MNIST
#               subset: dead units, then the loss rises
#   scale1      Fashion-MNIST subset with data.scale = 1 (the 1/255 forgotten)
#   flapping    a 6-layer sigmoid net for 658 steps: how many diagnosis
#               lines (the issue saw 38 in 640 steps before hysteresis)
#   frozen      lr 1e-7: an update ratio far below the healthy band
# Needs data/fmnist-6k-train.h5 and fmnist-2k-test.h5
# (jobs/doctor/fmnist_subset.sh). Prints a Markdown table; logs in OUTDIR
# (runs/doctor-transcripts).
set -uo pipefail
cd "$(dirname "$0")/../.."
GS=${GS:-build/gradscope}
OUT=${1:-runs/doctor-transcripts}
PY=/usr/bin/python3
for f in data/fmnist-6k-train.h5 data/fmnist-2k-test.h5; do
  [ -f "$f" ] || { echo "transcripts.sh: $f missing: run jobs/doctor/fmnist_subset.sh first" >&2; exit 2; }
done
mkdir -p "$OUT"

fmnist="[data]
synthetic = none
train = data/fmnist-6k-train.h5
test = data/fmnist-2k-test.h5
scale = 0.00392156862745098"
common="[train]
seed = 42
blas_threads = 1
log_every = 100000"
deep_relu="784$(printf ', 128%.0s' $(seq 30)), 10"

write() { # NAME: the config from stdin, with the common [train] keys
  { cat; echo "$common"; } > "$OUT/$1.ini"
}
write sigmoid11 <<INI
[model]
layers = 2,32,32,32,32,32,32,32,32,32,32,3
activation = sigmoid
init = xavier_normal
[optimizer]
lr = 0.05
INI
sed -i 's/^\[train\]$/[train]\nepochs = 8/' "$OUT/sigmoid11.ini"
write relu_lr <<INI
[model]
layers = $deep_relu
activation = relu
init = he_normal
$fmnist
[optimizer]
lr = 0.05
INI
sed -i 's/^\[train\]$/[train]\nepochs = 6\nbatch_size = 64/' "$OUT/relu_lr.ini"
write scale1 <<INI
[model]
layers = 784,128,10
activation = relu
init = he_normal
$fmnist
[optimizer]
lr = 0.05
INI
sed -i 's/^scale = .*/scale = 1/; s/^\[train\]$/[train]\nepochs = 6/' "$OUT/scale1.ini"
write flapping <<INI
[model]
layers = 2,32,32,32,32,32,3
activation = sigmoid
init = xavier_normal
[optimizer]
lr = 0.05
INI
sed -i 's/^\[train\]$/[train]\nepochs = 14/' "$OUT/flapping.ini"
write frozen <<INI
[model]
layers = 2,64,64,3
activation = relu
init = he_normal
[optimizer]
lr = 1e-7
INI
sed -i 's/^\[train\]$/[train]\nepochs = 6/' "$OUT/frozen.ini"

last_acc() { grep '^eval' "$1" | tail -1 | awk '{print $NF}'; }
echo "| situation | advise: problem | cause | remedy 1 | accuracy | with remedy 1 | repair mode: what it did | accuracy | diagnosis + doctor lines (advise) |"
echo "|---|---|---|---|---:|---:|---|---:|---:|"
for name in sigmoid11 relu_lr scale1 flapping frozen; do
  ini=$OUT/$name.ini d=$OUT/$name
  rm -rf "$d"; mkdir -p "$d"
  "$GS" train "$ini" --set doctor.mode=advise --set "checkpoint.dir=$d/advise" > "$d/advise.log" 2>&1
  "$GS" doctor "$d/advise" --json > "$d/advise.json" 2>/dev/null
  # problem, remedy 1's overrides (joined by \x1f: a value may hold commas
  # and spaces) and the cause, separated by tabs
  IFS=$'\t' read -r problem sets cause < <("$PY" - "$d/advise.json" <<'PYEOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    print("error\t-\t-"); sys.exit()
rem = r["remedies"][0]["set"] if r.get("remedies") else []
cause = (r.get("cause") or "-").replace("|", "/").replace("\t", " ")
print(r.get("problem") or "none", "\x1f".join(rem) or "-", cause[:90] + ("..." if len(cause) > 90 else ""), sep="\t")
PYEOF
)
  lines=$(grep -c "diagnosis step\|doctor step" "$d/advise.log")
  acc_applied=-
  if [ "$sets" != - ]; then
    args=(); IFS=$'\x1f' read -ra kv <<< "$sets"; for s in "${kv[@]}"; do args+=(--set "$s"); done
    "$GS" train "$ini" "${args[@]}" --set doctor.mode=off --set "checkpoint.dir=$d/applied" > "$d/applied.log" 2>&1
    acc_applied=$(last_acc "$d/applied.log")
  fi
  "$GS" train "$ini" --set doctor.mode=repair --set "checkpoint.dir=$d/repair" > "$d/repair.log" 2>&1; rc=$?
  did=$(grep -o "doctor: repair [0-9]* of [0-9]* at step [0-9]*: [a-z_]* -> .*" "$d/repair.log" |
        sed 's/doctor: repair [0-9]* of [0-9]* at //; s/; re-initialized from the seed/ (re-init)/; s/; rolled back to step/ (from step/; s/(from step \([0-9]*\)$/(from step \1)/' |
        paste -sd ';' -)
  [ $rc -eq 0 ] || did="${did:+$did; }exit $rc"
  echo "| $name | $problem | $cause | \`${sets//$'\x1f'/ }\` | $(last_acc "$d/advise.log") | ${acc_applied:--} | ${did:-nothing} | $(last_acc "$d/repair.log") | $lines |"
done
