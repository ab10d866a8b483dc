#!/usr/bin/env bash
# Preemption end to end, through jobs/slurm/train.sbatch with 2 tasks:
#  1. while gradscope trains, the batch shell gets SIGUSR1 the way
#     --signal=B:USR1@N delivers it (`scancel --signal=USR1 --batch`);
#  2. the script's trap passes it to mpirun, the ranks stop at a step
#     boundary, rank 0 checkpoints, gradscope exits 75, the script requeues;
#  3. the test releases the requeued job (StartTime=now instead of Slurm's
#     120 s hold), the rerun sees SLURM_RESTART_COUNT=1, resumes and finishes;
#  4. its final weights and momentum equal, bit for bit, those of the same
#     config trained without interruption on 2 ranks (same build, kernel,
#     one BLAS thread per rank and rank count: the same GEMMs, on any kernel).
#
#   test_slurm_requeue.sh [mpirun|srun]   the launch mode (train.sbatch's GS_LAUNCH):
#   mpirun forwards the script's USR1 to the ranks, srun does the same for its tasks
set -u
. "$(dirname "$0")/slurm/lib.sh"
export GS_LAUNCH=${1:-mpirun}
slurm_setup
need_gradscope
workdir "requeue-$GS_LAUNCH"

# Long enough (about 3 s on 2 idle cores) that the signal lands mid-run.
STEPS=${GS_REQUEUE_STEPS:-600}
write_config run.ini "$WORK/ckpt" train.max_steps=$STEPS train.epochs=1000 train.log_every=25 \
  "model.layers=2, 128, 128, 128, 3" data.n_train=8192 train.batch_size=256 checkpoint.every_steps=250
submit --ntasks=2 --time=3 --output="$WORK/job.out" --job-name=gs-requeue \
  "$GS_SRC/jobs/slurm/train.sbatch" run.ini
echo "job $JOB submitted ($(elapsed))"

# 1. Wait for training progress, then signal the batch shell only.
deadline=$((SECONDS + 40))
until grep -qE "^epoch [0-9]+ step [0-9]+/$STEPS" job.out 2>/dev/null; do
  ((SECONDS < deadline)) || { show_job "$JOB" job.out; scancel "$JOB"; fail "no training progress in 40 s"; }
  state=$(job_field "$JOB" JobState)
  [[ $state == @(PENDING|RUNNING|CONFIGURING) ]] ||
    { show_job "$JOB" job.out; fail "job $JOB is $state before any progress"; }
  sleep 0.1
done
timeout 10 scancel --signal=USR1 --batch "$JOB" || fail "scancel --signal=USR1 --batch $JOB failed"
echo "SIGUSR1 sent to the batch shell of job $JOB ($(elapsed))"

# 2. The script requeues: the job goes back to PENDING with Restarts=1.
deadline=$((SECONDS + 40))
while :; do
  state=$(job_field "$JOB" JobState) restarts=$(job_field "$JOB" Restarts)
  [[ $state == PENDING && $restarts == 1 ]] && break
  if [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED ]] || ((SECONDS >= deadline)); then
    show_job "$JOB" job.out
    timeout 10 scancel "$JOB"
    fail "job $JOB did not requeue itself (state $state, restarts $restarts)"
  fi
  sleep 0.2
done
stop_step=$(sed -n 's/.*stopped by a signal at step \([0-9]*\).*/\1/p' job.out | head -n1)
grep -q '(gradscope) exited with status 75' job.out || { show_job "$JOB" job.out; fail "no exit status 75 in the log"; }
[[ -n $stop_step && $stop_step -lt $STEPS ]] ||
  { show_job "$JOB" job.out; fail "gradscope did not stop early (stop step '${stop_step}' of $STEPS)"; }
echo "stopped at step $stop_step with status 75 and requeued ($(elapsed))"

# 3. Release it now instead of after Slurm's requeue hold; it must finish.
# Not within the second of the requeue: slurmd revokes the old run's job
# credential with a 1-second timestamp and refuses ("Job credential
# revoked") a new one from the same second, which fails the job for good.
sleep 2
timeout 10 scontrol update JobId="$JOB" StartTime=now || fail "scontrol update StartTime=now failed"
wait_done "$JOB" 60 "$WORK/job.out"
echo "rerun completed ($(elapsed))"
cat job.out
grep -qE '(^|[^0-9A-Z_])SLURM_RESTART_COUNT=1([^0-9]|$)' job.out || fail "the rerun's SLURM_RESTART_COUNT=1 is not in the log"
grep -qE "^resume: .*step $stop_step[^0-9]" job.out || fail "the rerun did not resume from step $stop_step"
[[ $(grep -c '(gradscope) exited with status 0' job.out) == 1 ]] || fail "expected one clean finish in the log"

# 4. The same training, uninterrupted, on 2 ranks.
timeout 120 "${GRADSCOPE_MPIEXEC:-mpirun}" -np 2 env OPENBLAS_NUM_THREADS=1 "$GRADSCOPE_BIN" train run.ini \
  --set "checkpoint.dir=$WORK/ref" >ref.log 2>&1 || { tail -n 20 ref.log; fail "the uninterrupted run failed"; }
echo "uninterrupted run done ($(elapsed))"
same_weights "$(latest_ckpt "$WORK/ckpt")" "$(latest_ckpt "$WORK/ref")" ||
  fail "resumed weights differ from the uninterrupted run"
echo "PASS ($GS_LAUNCH): USR1 -> checkpoint at step $stop_step -> exit 75 -> requeue -> resume -> bitwise equal final weights ($(elapsed))"
