#!/usr/bin/env bash
# jobs/doctor/run.sh [-j JOBS] [-o OUTDIR] [CASE.ini|DIR]... : the doctor's benchmark.
# Each case (default: jobs/doctor/cases/) is trained twice on 1 rank: in
# [doctor] mode = advise, where the doctor's problem (gradscope doctor
# --json) must be one the case's `; expect =` line names ("none" for a
# healthy config), and, for a broken case, in mode = repair, whose final
# test accuracy is compared with the best healthy config of the same family
# (margin: MARGIN, default 0.05). Writes OUTDIR/results.tsv and prints the
# summary table (jobs/doctor/summary.py). Needs data/fmnist-*.h5 for the
# fmnist family: jobs/doctor/fmnist_subset.sh. Run from anywhere.
# SET="doctor.trial_steps=100 ..." adds overrides to every run (a variant of
# the doctor's settings measured on the same cases).
set -uo pipefail
cd "$(dirname "$0")/../.."
GS=${GS:-build/gradscope}
JOBS=1 OUT=runs/doctor-bench
while getopts "j:o:" o; do case $o in j) JOBS=$OPTARG ;; o) OUT=$OPTARG ;; *) exit 2 ;; esac; done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- jobs/doctor/cases
mkdir -p "$OUT"
SET=${SET:-}
export GS OUT SET
one() { # one CASE.ini: a line of results.tsv
  local c=$1 name fam expect t0 t1 t2 rc1 rc2 acc1 acc2 prob
  name=$(basename "$c" .ini)
  fam=$(sed -n 's/^; family = //p' "$c"); expect=$(sed -n 's/^; expect = //p' "$c")
  rm -rf "$OUT/$name"; mkdir -p "$OUT/$name"
  local extra=() s sets
  read -ra sets <<< "$SET" # (split on blanks, no filename expansion)
  for s in "${sets[@]}"; do extra+=(--set "$s"); done
  t0=$EPOCHREALTIME
  "$GS" train "$c" "${extra[@]}" --set "checkpoint.dir=$OUT/$name/advise" > "$OUT/$name/advise.log" 2>&1; rc1=$?
  t1=$EPOCHREALTIME
  acc1=$(grep '^eval' "$OUT/$name/advise.log" | tail -1 | awk '{print $NF}')
  prob=$("$GS" doctor "$OUT/$name/advise" --json 2>/dev/null |
         /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["problem"] or "none")' 2>/dev/null)
  rc2=- acc2=-
  if [ "$expect" != none ]; then
    "$GS" train "$c" "${extra[@]}" --set doctor.mode=repair --set "checkpoint.dir=$OUT/$name/repair" > "$OUT/$name/repair.log" 2>&1; rc2=$?
    acc2=$(grep '^eval' "$OUT/$name/repair.log" | tail -1 | awk '{print $NF}')
  fi
  t2=$EPOCHREALTIME
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\n' "$name" "$fam" "$expect" "${prob:-error}" "$rc1" "${acc1:--}" \
    "$rc2" "${acc2:--}" "$(awk "BEGIN{print $t1 - $t0}")" "$(awk "BEGIN{print $t2 - $t0}")"
}
export -f one
{
  printf 'case\tfamily\texpect\tproblem\tadvise_rc\tadvise_acc\trepair_rc\trepair_acc\tadvise_s\ttotal_s\n'
  find "$@" -name '*.ini' | sort | xargs -P "$JOBS" -I{} bash -c 'one {}' | sort
} > "$OUT/results.tsv"
/usr/bin/python3 jobs/doctor/summary.py "$OUT/results.tsv"
