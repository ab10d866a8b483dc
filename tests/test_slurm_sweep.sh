#!/usr/bin/env bash
# A small sweep as a Slurm job array (jobs/slurm/sweep.sbatch running
# jobs/sweep_local.sh --task I): 2 inits x 1 activation x 2 depths = 4 tiny
# tasks, 2 at a time on the 2 CPUs; every task must finish with a checkpoint,
# and jobs/sweep_summary.py must print one row per task and draw the PNG.
# On the virtual cluster (GS_SLURM_DIR of `cluster.sh start --nodes 3`: three
# 1-CPU nodes) Slurm spreads the tasks over the nodes: they must have run on
# at least two different nodes, each task on the host its log names.
set -u
. "$(dirname "$0")/slurm/lib.sh"
slurm_setup
need_gradscope
workdir sweep

export SWEEP_INITS="zeros xavier_normal" SWEEP_ACTS="tanh" SWEEP_DEPTHS="shallow deep"
export SWEEP_WIDTH=16 SWEEP_SHALLOW=2 SWEEP_DEEP=8 SWEEP_DIR=$WORK/runs
n=$(bash "$GS_SRC/jobs/sweep_local.sh" --count)
[[ $n == 4 ]] || fail "sweep_local.sh --count says $n tasks, expected 4"
bash "$GS_SRC/jobs/sweep_local.sh" --list

# (--time=5: the script asks for SIGUSR1 120 s before the limit, so a limit
# of 2 minutes would send it at the start, racing the ranks' start-up)
submit --array=0-$((n - 1)) --ntasks=1 --time=5 --output="$WORK/sweep-%A_%a.out" --job-name=gs-sweep \
  "$GS_SRC/jobs/slurm/sweep.sbatch" -- \
  --set data.n_train=256 --set data.n_test=64 --set train.epochs=2 --set train.batch_size=32 --set train.log_every=8
echo "array job $JOB submitted ($(elapsed))"

# Wait until no task of the array is pending or running.
deadline=$((SECONDS + 90))
while [[ -n $(timeout 10 squeue -h -j "$JOB" -o %i 2>/dev/null) ]]; do
  if ((SECONDS >= deadline)); then
    timeout 10 squeue -j "$JOB" >&2
    show_job "$JOB" "$WORK"/sweep-*.out
    timeout 10 scancel "$JOB"
    fail "array job $JOB not finished after 90 s"
  fi
  sleep 0.3
done
echo "array finished ($(elapsed))"

# Every task ended COMPLETED with exit code 0 (records kept for MinJobAge).
recs=$(timeout 10 scontrol -o show job "$JOB")
n_rec=$(grep -c 'ArrayTaskId=' <<<"$recs")
n_ok=$(grep 'JobState=COMPLETED' <<<"$recs" | grep -c 'ExitCode=0:0')
if [[ $n_rec != "$n" || $n_ok != "$n" ]]; then
  echo "$recs" | grep -o 'ArrayTaskId=[^ ]*\|JobState=[^ ]*\|ExitCode=[^ ]*' >&2
  for f in "$WORK"/sweep-*.out "$WORK"/runs/*/train.log; do echo "----- $f" >&2; tail -n 15 "$f" >&2; done
  fail "$n_ok of $n array tasks COMPLETED with exit code 0 ($n_rec records)"
fi
# Where the tasks ran. On the virtual cluster (node name = hostname) Slurm's
# record and the task's own log (the hostname it saw) must agree, and at
# least two nodes must have been used.
n_nodes=$(bash "$GS_SLURM_TESTS/cluster.sh" nodes "$GS_SLURM_DIR" | wc -l)
declare -A where=()
while read -r rec; do
  id=$(tr ' ' '\n' <<<"$rec" | sed -n 's/^ArrayTaskId=//p')
  node=$(tr ' ' '\n' <<<"$rec" | sed -n 's/^NodeList=//p')
  host=$(sed -n 's/^== sweep.sbatch: array task .* on \([^ ]*\) at .*/\1/p' "$WORK/sweep-${JOB}_$id.out" | head -n1)
  ((n_nodes == 1)) || [[ -n $node && $node == "$host" ]] ||
    fail "array task $id: Slurm says node '$node', its log says host '$host'"
  where[$node]+="$id "
done <<<"$recs"
echo "tasks per node: $(for n in "${!where[@]}"; do printf '%s: %s ' "$n" "${where[$n]}"; done)"
if ((n_nodes > 1 && ${#where[@]} < 2)); then
  fail "all $n tasks ran on ${!where[*]} although the cluster has $n_nodes nodes"
fi
for d in "$WORK"/runs/*/; do
  [[ $(cat "$d/status" 2>/dev/null) == 0 ]] || { tail -n 20 "$d/train.log" >&2; fail "$d: status $(cat "$d/status" 2>/dev/null)"; }
done

"$GS_PY" "$GS_SRC/jobs/sweep_summary.py" "$WORK/runs" --png "$WORK/summary.png" --csv "$WORK/summary.csv" \
  >summary.txt 2>&1 || { cat summary.txt; fail "sweep_summary.py failed"; }
cat summary.txt
rows=$(grep -cE '^(zeros|xavier_normal) +tanh +(shallow|deep)' summary.txt)
[[ $rows == 4 ]] || fail "the summary has $rows rows for 4 tasks"
grep -E '^(zeros|xavier_normal) ' summary.txt | grep -vq ' done$' && fail "a summary row is not 'done'"
head -c 8 "$WORK/summary.png" | od -An -c | grep -q 'P   N   G' || fail "no PNG at $WORK/summary.png"
# The table must carry numbers, not dashes: loss, accuracy and gradient ratio.
"$GS_PY" - "$WORK/summary.csv" <<'PY' || fail "the summary lacks loss, accuracy, ratio or verdicts"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    # zeros init: every weight gradient is 0, so its ratio is 0/0 by design
    keys = ("loss", "test_acc") + (() if r["init"] == "zeros" else ("grad_ratio_first_last",))
    for k in keys:
        if not math.isfinite(float(r[k])):
            sys.exit(f"{r['dir']}: {k} = {r[k]}")
    depth = int(r["n_hidden"]) + 1
    if len(r["verdicts"]) != depth:
        sys.exit(f"{r['dir']}: {len(r['verdicts'])} verdicts for {depth} layers")
if not any(r["init"] == "zeros" and set(r["verdicts"][:-1]) == {"y"} for r in rows):
    sys.exit("zeros init should be diagnosed symmetric in every hidden layer")
print(f"{len(rows)} rows with finite loss, accuracy and ratio, one verdict per layer")
PY
echo "PASS: 4-task sweep array completed on ${#where[@]} node(s) and summarized ($(elapsed))"
