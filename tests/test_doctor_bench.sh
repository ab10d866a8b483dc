#!/usr/bin/env bash
# test_doctor_bench.sh: the doctor benchmark's fast subset (jobs/doctor/run.sh
# on four spiral cases): every broken case is named right, the healthy one is
# not flagged (summary.py's exit status), and the table is printed.
. "$(dirname "$0")/lib.sh"
C=$GRADSCOPE_SRC/jobs/doctor/cases
GS=$GS bash "$GRADSCOPE_SRC/jobs/doctor/run.sh" -o "$WORK/bench" "$C/spiral_ok_relu.ini" "$C/spiral_sigmoid_deep8.ini" \
  "$C/spiral_zeros.ini" "$C/spiral_lr3.ini" > "$WORK/table.md" 2>&1; rc=$?
cat "$WORK/table.md"
[ $rc -eq 0 ] && pass "detection 3/3, no false positive" || fail "run.sh exit $rc"
grep -q "^| detection (right symptom) | 100.0 % (3/3)" "$WORK/table.md" && pass "the table" || fail "no table"
finish
