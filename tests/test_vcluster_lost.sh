#!/usr/bin/env bash
# A node lost in the middle of a 2-node job, on the virtual three-node cluster
# (tests/slurm/cluster.sh start --nodes 3): jobs/slurm/train.sbatch runs with
# one rank on each of two nodes; once the first checkpoint exists, the node
# that is not the batch host fails:
#
#   kill     every process in its namespace gets SIGKILL (its slurmd, its step
#            daemon, its rank): the survivors see connections reset at once
#   unplug   its cable is pulled first (its switch port goes down), then its
#            processes are killed, as in a power failure: no reset ever
#            arrives, and the survivors notice only through their own
#            timeouts or gradscope's watchdog ([train] watchdog_seconds = 5)
#
# Then: the job's first run ends within a minute (no hang); Slurm marks the
# node DOWN (SlurmdTimeout=5 in the test cluster); the job is requeued (by
# train.sbatch after its probe step finds the node gone, or by Slurm when it
# marks the node DOWN first) and, released at once instead of after Slurm's
# requeue hold, runs again with 2 ranks on the batch host and the spare node;
# it resumes from the last checkpoint and finishes. Nothing is lost: the final
# checkpoint has every step and the whole loss history, and its weights equal
# bit for bit those of the same 2-rank training run without interruption
# (same build, kernel, one BLAS thread per rank: the same sums in the same
# order, whatever the transport; see test_two_hosts.sh).
#
#   test_vcluster_lost.sh kill|unplug [mpirun|srun]   (train.sbatch's GS_LAUNCH)
#
# The lost node is revived (cluster.sh revive) on exit, pass or fail, so the
# next test finds three nodes again.
set -u
mode=${1:-kill}
export GS_LAUNCH=${2:-mpirun}
. "$(dirname "$0")/slurm/lib.sh"
[[ $mode == @(kill|unplug) ]] || fail "usage: $0 kill|unplug [mpirun|srun]"
slurm_setup
need_gradscope
workdir "lost-$mode-$GS_LAUNCH"
CLUSTER=$GS_SLURM_TESTS/cluster.sh
NETNS=$GS_SLURM_TESTS/../twohost/netns.sh
NET=$GS_SLURM_DIR/net
[[ -f $NET/env ]] || fail "$GS_SLURM_DIR is not a virtual cluster (start it with cluster.sh start --nodes 3)"
mapfile -t nodes < <(bash "$CLUSTER" nodes "$GS_SLURM_DIR")
((${#nodes[@]} >= 3)) || fail "need 3 nodes for a 2-node job and a spare, the cluster has ${#nodes[@]}"

victim= JOB=
cleanup() {
  [[ -n $JOB ]] && timeout 10 scancel "$JOB" 2>/dev/null
  if [[ -n $victim ]]; then
    bash "$CLUSTER" revive "$GS_SLURM_DIR" "$victim" || echo "WARNING: could not revive $victim" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the namespace of a node (netns.sh's env: TH_H<i> is the name, TH_NS<i> its namespace)
ns_of() { (. "$NET/env"; for ((i = 0; i < TH_N; i++)); do h=TH_H$i s=TH_NS$i; [[ ${!h} == "$1" ]] && echo "${!s}"; done); }
# gradscope processes running in node $1's namespace
ranks_on() {
  local p n=0
  for p in $(ip netns pids "$(ns_of "$1")" 2>/dev/null); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == gradscope ]] && n=$((n + 1))
  done
  echo $n
}

# 400 steps, a checkpoint every 50 (and none per epoch). The node fails as soon as the first
# checkpoint exists (the test polls the file, nothing slower), so most of
# the run is still ahead however fast the machine trains; the layers are
# wide enough that a step takes milliseconds of compute (128 wide, the srun
# run did its 400 steps in under a second, and a poller starved by a loaded
# 2-core machine first saw the last checkpoint).
STEPS=400
write_config run.ini "$WORK/ckpt" train.max_steps=$STEPS train.epochs=1000 train.log_every=25 \
  "model.layers=2, 512, 512, 512, 3" data.n_train=8192 train.batch_size=256 \
  checkpoint.every_steps=50 checkpoint.every_epochs=0 train.watchdog_seconds=5
submit -N 2 --ntasks-per-node=1 --time=5 --output="$WORK/job.out" --job-name=gs-lost \
  "$GS_SRC/jobs/slurm/train.sbatch" run.ini
echo "job $JOB submitted ($(elapsed))"

# 1. The job runs on two nodes, with one rank in each node's namespace (the
# processes themselves, not the log).
wait_state "$JOB" 60 "$WORK/job.out" RUNNING
batch=$(job_field "$JOB" BatchHost)
mapfile -t used < <(scontrol show hostnames "$(job_field "$JOB" NodeList)")
((${#used[@]} == 2)) || fail "job $JOB runs on ${#used[@]} nodes (${used[*]}), expected 2"
for n in "${used[@]}"; do [[ $n != "$batch" ]] && victim=$n; done
for n in "${nodes[@]}"; do [[ $n != "${used[0]}" && $n != "${used[1]}" ]] && spare=$n; done
[[ -n $victim && -n ${spare:-} ]] || fail "cannot tell the victim and the spare (batch host $batch, nodes ${used[*]})"
deadline=$((SECONDS + 60))
until [[ $(ranks_on "$batch") == 1 && $(ranks_on "$victim") == 1 ]]; do
  ((SECONDS < deadline)) || { show_job "$JOB" job.out; fail "no gradscope rank on each of $batch and $victim within 60 s"; }
  [[ -s $WORK/ckpt/latest ]] && { show_job "$JOB" job.out; fail "a checkpoint exists before a rank was seen on each node"; }
  sleep 0.05
done
echo "ranks on $batch (batch host) and $victim, one each; spare $spare ($(elapsed))"
# The first checkpoint: poll the file only, so the node fails right after it.
deadline=$((SECONDS + 60))
until [[ -s $WORK/ckpt/latest ]]; do
  ((SECONDS < deadline)) || { show_job "$JOB" job.out; fail "no checkpoint in 60 s"; }
  sleep 0.02
done

# 2. The victim fails.
t_fail=$SECONDS
ck_at_fail=$(head -n1 "$WORK/ckpt/latest")
if [[ $mode == unplug ]]; then
  bash "$NETNS" unplug "$NET" "$victim" || fail "could not unplug $victim"
fi
bash "$NETNS" kill "$NET" "$victim" || fail "could not kill the processes of $victim"
for ((i = 0; i < 50; i++)); do [[ -z $(ip netns pids "$(ns_of "$victim")") ]] && break; sleep 0.1; done
[[ -z $(ip netns pids "$(ns_of "$victim")") ]] || fail "processes survive SIGKILL in $victim's namespace"
echo "$victim: $([[ $mode == unplug ]] && echo "cable pulled, then ")every process killed right after $ck_at_fail ($(elapsed))"

# 3. The first run ends, Slurm marks the node DOWN, the job is requeued.
# (Slurm's timing is coarse: bounds, not exact times.)
t_end= t_down= t_requeue=
deadline=$((SECONDS + 90))
while ((SECONDS < deadline)); do
  rec=$(timeout 10 scontrol -o show job "$JOB" 2>/dev/null)
  state=$(tr ' ' '\n' <<<"$rec" | sed -n 's/^JobState=//p')
  restarts=$(tr ' ' '\n' <<<"$rec" | sed -n 's/^Restarts=//p')
  [[ -z $t_end && ($state != RUNNING || ${restarts:-0} -ge 1) ]] && t_end=$((SECONDS - t_fail))
  [[ -z $t_requeue && ${restarts:-0} -ge 1 ]] && t_requeue=$((SECONDS - t_fail))
  [[ -z $t_down && $(timeout 5 sinfo -h -N -n "$victim" -o %T 2>/dev/null) == down* ]] && t_down=$((SECONDS - t_fail))
  [[ $state == @(FAILED|CANCELLED|TIMEOUT|NODE_FAIL|COMPLETED) && ${restarts:-0} == 0 ]] &&
    { show_job "$JOB" job.out; fail "job $JOB ended $state after the node failure instead of being requeued"; }
  [[ -n $t_end && -n $t_down && -n $t_requeue && $state == @(PENDING|RUNNING|COMPLETED) ]] && break
  sleep 0.25
done
[[ -n $t_end ]] || { show_job "$JOB" job.out; fail "the job still runs 90 s after $victim failed (a hang)"; }
((t_end <= 60)) || { show_job "$JOB" job.out; fail "the job's first run took ${t_end}s to end after $victim failed (more than a minute)"; }
[[ -n $t_down ]] || { show_job "$JOB" job.out; fail "Slurm did not mark $victim DOWN within 90 s (SlurmdTimeout=5)"; }
[[ -n $t_requeue ]] || { show_job "$JOB" job.out; fail "job $JOB was not requeued within 90 s of the failure"; }
echo "after the failure: first run ended in ${t_end}s, $victim DOWN in ${t_down}s, job requeued in ${t_requeue}s, now $state ($(elapsed))"
if grep -q "node failure after the launch: $victim did not answer" job.out; then
  echo "requeued by train.sbatch (its probe step found $victim gone)"
elif grep -q "requeue job JobId=$JOB due to failure of node $victim" "$GS_SLURM_DIR/log/slurmctld.log"; then
  echo "requeued by Slurm when it marked $victim DOWN (the launcher was still waiting for it)"
else
  show_job "$JOB" job.out
  fail "job $JOB has Restarts>=1 but neither train.sbatch nor slurmctld logged a requeue for the loss of $victim"
fi

# 4. Release the requeued job now instead of after Slurm's hold (not in the
# same second as the requeue: slurmd refuses a job credential from the second
# of the revoked one); it must finish on the batch host and the spare.
# (A job the script requeued may already have started again: no hold then.)
if [[ $state == PENDING ]]; then
  sleep 2
  if [[ $(job_field "$JOB" JobState) == PENDING ]]; then
    timeout 10 scontrol update JobId="$JOB" StartTime=now ||
      [[ $(job_field "$JOB" JobState) != PENDING ]] || fail "scontrol update StartTime=now failed"
  fi
fi
wait_done "$JOB" 120 "$WORK/job.out"
echo "rerun completed ($(elapsed))"
grep -v '^epoch \|^eval ' job.out

[[ $(job_field "$JOB" Restarts) == 1 ]] || fail "expected exactly one requeue, Restarts=$(job_field "$JOB" Restarts)"
mapfile -t now < <(scontrol show hostnames "$(job_field "$JOB" NodeList)")
[[ " ${now[*]} " == *" $spare "* && " ${now[*]} " != *" $victim "* ]] ||
  fail "the rerun ran on ${now[*]}: expected the spare $spare and not the lost $victim"
grep -qE '(^|[^0-9A-Z_])SLURM_RESTART_COUNT=1([^0-9]|$)' job.out || fail "the rerun's SLURM_RESTART_COUNT=1 is not in the log"
probe=$(grep '== train.sbatch: probe of 2 nodes' job.out | tail -n1)
[[ $probe == *"$spare("* && $probe != *"$victim("* ]] || fail "the rerun's probe line does not show the spare $spare only: $probe"
[[ $(grep -c '^gradients: .*ring of messages' job.out) == 2 ]] || fail "both runs must exchange gradients by messages across nodes"
grep -q 'through shared memory' job.out && fail "a run exchanged gradients through shared memory across nodes"
resumed=$(sed -n 's/^resume: .*: step \([0-9]*\)[^0-9].*/\1/p' job.out | tail -n1)
[[ -n $resumed && $resumed -ge 50 && $resumed -lt $STEPS ]] || fail "the rerun did not resume from a checkpoint (resume step '${resumed}')"
[[ $(grep -c '(gradscope) exited with status 0' job.out) == 1 ]] || fail "expected one clean finish in the log"
# Without a connection reset, the surviving rank learns of the loss only
# from its own watchdog (TCP alone would wait many minutes).
if [[ $mode == unplug ]]; then
  grep -q "^gradscope: rank [0-9]*: watchdog: step" job.out ||
    fail "the surviving rank did not end through its watchdog after $victim's cable was pulled"
fi
echo "rerun on ${now[*]} resumed from step $resumed"

# 5. Nothing lost, and the same weights and loss history as an uninterrupted run.
timeout 120 "${GRADSCOPE_MPIEXEC:-mpirun}" -np 2 env OPENBLAS_NUM_THREADS=1 "$GRADSCOPE_BIN" train run.ini \
  --set "checkpoint.dir=$WORK/ref" >ref.log 2>&1 || { tail -n 20 ref.log; fail "the uninterrupted run failed"; }
final=$(latest_ckpt "$WORK/ckpt") ref=$(latest_ckpt "$WORK/ref")
"$GS_PY" - "$final" "$ref" "$STEPS" <<'PY' || fail "the final checkpoint lost steps or loss history"
import sys, h5py, numpy as np
f, r = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
step, steps, n_ranks = int(f.attrs["step"]), int(sys.argv[3]), int(f.attrs["n_ranks"])
loss, ref = f["history/loss"][()], r["history/loss"][()]
assert step == steps, f"final step {step}, expected {steps}"
assert n_ranks == 2, f"n_ranks {n_ranks}, expected 2 (the rank count must not change)"
assert loss.shape[0] == steps, f"history/loss has {loss.shape[0]} entries for {steps} steps"
assert np.all(np.isfinite(loss)), "history/loss has non-finite entries"
if loss.tobytes() != ref.tobytes():
    n = min(len(loss), len(ref))
    sys.exit(f"history/loss differs from the uninterrupted run's at steps {np.flatnonzero(loss[:n] != ref[:n])[:10].tolist()}")
print(f"final checkpoint: step {step} of {steps}, {n_ranks} ranks, loss history of {steps} steps equal to the uninterrupted run's")
PY
same_weights "$final" "$ref" || fail "the weights after losing $victim differ from the uninterrupted run"
echo "PASS ($mode, $GS_LAUNCH): $victim lost after $ck_at_fail; first run ended in ${t_end}s, node DOWN in ${t_down}s," \
  "requeued, resumed from step $resumed on $batch + $spare; bitwise equal to an uninterrupted run ($(elapsed))"
