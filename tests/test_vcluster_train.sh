#!/usr/bin/env bash
# `sbatch -N 2 --ntasks-per-node=1 jobs/slurm/train.sbatch CONFIG` on the
# virtual three-node cluster (tests/slurm/cluster.sh start --nodes 3): one
# rank on each of two nodes, each node a host of its own (network namespace,
# hostname, slurmd). The job completes; its log shows the two nodes' two
# hostnames (the script's probe step) and the message-passing gradient
# exchange (the ranks are on different nodes, so no shared memory); its final
# weights equal, bit for bit, those of the same 2-rank run on one host, as
# test_two_hosts.sh requires of plain mpirun across hosts.
#
# With mpirun, also: jobs that fail with a config, data or checkpoint error
# (exit 2, 3, 4) on two nodes fail at once and are never requeued, although
# the script requeues a job whose node is lost.
#
#   test_vcluster_train.sh [mpirun|srun]   (train.sbatch's GS_LAUNCH)
set -u
export GS_LAUNCH=${1:-mpirun}
. "$(dirname "$0")/slurm/lib.sh"
slurm_setup
need_gradscope
workdir "train2-$GS_LAUNCH"
[[ -f $GS_SLURM_DIR/net/env ]] || fail "$GS_SLURM_DIR is not a virtual cluster (start it with cluster.sh start --nodes 3)"

write_config run.ini "$WORK/ckpt" train.max_steps=24
submit -N 2 --ntasks-per-node=1 --time=5 --output="$WORK/job.out" --job-name=gs-2nodes \
  "$GS_SRC/jobs/slurm/train.sbatch" run.ini
echo "job $JOB submitted ($(elapsed))"
wait_done "$JOB" 90 "$WORK/job.out"
echo "job $JOB completed ($(elapsed))"
cat job.out

mapfile -t used < <(scontrol show hostnames "$(job_field "$JOB" NodeList)")
((${#used[@]} == 2)) || fail "the job ran on ${#used[@]} nodes (${used[*]}), expected 2"
# The probe line: node(hostname) of every node that answered, as seen there.
probe=$(grep '^== train.sbatch: probe of 2 nodes' job.out)
hosts=$(grep -o '([^)]*)' <<<"$probe" | tr -d '()' | sort -u)
[[ $(wc -l <<<"$hosts") == 2 ]] || fail "the log does not show two hostnames: $probe"
for n in "${used[@]}"; do
  [[ $probe == *"$n($n)"* ]] || fail "node $n (hostname $n) is not in the probe line: $probe"
done
[[ $(hostname) != "${used[0]}" && $(hostname) != "${used[1]}" ]] || fail "a node has this machine's hostname"
grep -q '^gradients: .*ring of messages' job.out ||
  fail "the gradients crossed nodes by another way than messages: $(grep '^gradients:' job.out)"
grep -q 'through shared memory' job.out && fail "ranks on two nodes cannot share memory"
grep -q '(gradscope) exited with status 0' job.out || fail "the log does not show gradscope's exit status 0"
grep -q requeue job.out && fail "a finished job must not requeue itself"
echo "ranks on ${used[*]} (hostnames $(echo $hosts)), gradients by messages"

# The same run, 2 ranks on one host (this machine's network, no Slurm).
timeout 60 "${GRADSCOPE_MPIEXEC:-mpirun}" -np 2 env OPENBLAS_NUM_THREADS=1 "$GRADSCOPE_BIN" train run.ini \
  --set "checkpoint.dir=$WORK/one" >one.log 2>&1 || { cat one.log; fail "training on one host failed"; }
same_weights "$(latest_ckpt "$WORK/ckpt")" "$(latest_ckpt "$WORK/one")" ||
  fail "the weights of the 2-node job differ from the 2-rank run on one host"

if [[ $GS_LAUNCH == mpirun ]]; then
  # Errors of the run itself are never requeued (a rerun would fail again):
  # 2 config (caught by the script before any rank starts), 3 data (the ranks
  # find no training file), 4 checkpoint (the directory holds a checkpoint of
  # another model).
  mkdir -p other
  write_config other.ini "$WORK/other" "model.layers=2, 16, 3" train.max_steps=2
  timeout 60 "$GRADSCOPE_BIN" train other.ini >other.log 2>&1 || { cat other.log; fail "the other model's run failed"; }
  declare -A why=([2]="--set train.no_such_key=1"
                  [3]="--set data.synthetic=none --set data.train=$WORK/no-such-file.h5"
                  [4]="--set checkpoint.dir=$WORK/other")
  for code in 2 3 4; do
    # (word splitting of the --set options is intended)
    # shellcheck disable=SC2086
    submit -N 2 --ntasks-per-node=1 --time=2 --output="$WORK/bad$code.out" --job-name=gs-bad$code \
      "$GS_SRC/jobs/slurm/train.sbatch" run.ini ${why[$code]}
    # until it ends, or is requeued (Restarts >= 1: back to PENDING)
    deadline=$((SECONDS + 60))
    while :; do
      JOB_STATE=$(job_field "$JOB" JobState) restarts=$(job_field "$JOB" Restarts)
      [[ $JOB_STATE == @(FAILED|COMPLETED|CANCELLED|TIMEOUT|NODE_FAIL) || ${restarts:-0} -ge 1 ]] && break
      ((SECONDS < deadline)) || break
      sleep 0.25
    done
    ec=$(job_field "$JOB" ExitCode)
    if [[ $JOB_STATE != FAILED || $ec != "$code:0" || $restarts != 0 ]]; then
      show_job "$JOB" "$WORK/bad$code.out"
      timeout 10 scancel "$JOB"
      fail "a job failing with status $code must fail with exit code $code:0 and never be requeued (state $JOB_STATE, exit code $ec, restarts $restarts)"
    fi
    grep -q 'requeueing job' "bad$code.out" && { cat "bad$code.out"; fail "the status $code job says it requeues"; }
    echo "status $code: job $JOB FAILED with exit code $ec, not requeued: $(grep -m1 -E 'train.sbatch: (status|.*no_such_key)' "bad$code.out" | cut -c1-120)"
  done
fi
echo "PASS ($GS_LAUNCH): 2 nodes, 2 hostnames, gradients by messages, weights bitwise equal to 2 ranks on one host ($(elapsed))"
