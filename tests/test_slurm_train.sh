#!/usr/bin/env bash
# jobs/slurm/train.sbatch as a user submits it, with 2 tasks on a small
# config: the job completes, its log shows training and the final
# checkpoint, and `gradscope inspect` reads that checkpoint.
#   test_slurm_train.sh [mpirun|srun]   the launch mode (train.sbatch's GS_LAUNCH)
set -u
export GS_LAUNCH=${1:-mpirun}
. "$(dirname "$0")/slurm/lib.sh"
slurm_setup
need_gradscope
workdir "train-${GS_LAUNCH:-mpirun}"

# a checkpoint directory longer than the 100 characters at which `gradscope config`
# wraps a string: train.sbatch must read it whole to check the final checkpoint
CKPT=$WORK/a-checkpoint-directory-whose-path-is-longer-than-the-wrap-column-of-gradscope-config/ckpt
write_config run.ini "$CKPT"
# (--time=5: a limit of 2 minutes would bring train.sbatch's SIGUSR1@120 at the start)
submit --ntasks=2 --time=5 --output="$WORK/job.out" --job-name=gs-train \
  "$GS_SRC/jobs/slurm/train.sbatch" run.ini --set train.log_every=4
echo "job $JOB submitted ($(elapsed))"
wait_done "$JOB" 60 "$WORK/job.out"
echo "job $JOB completed ($(elapsed))"
cat job.out

grep -q 'SLURM_RESTART_COUNT=0' job.out || fail "the log does not show the first run (SLURM_RESTART_COUNT=0)"
grep -q '(gradscope) exited with status 0' job.out || fail "the log does not show gradscope's exit status 0"
grep -q 'requeue' job.out && fail "a finished job must not requeue itself"
ck=$(latest_ckpt "$CKPT")
[[ -f $ck ]] || fail "no checkpoint in $CKPT"
[[ -f $CKPT/latest ]] || fail "no 'latest' pointer in $CKPT"
timeout 30 "$GRADSCOPE_BIN" inspect "$ck" >inspect.txt 2>&1 || { cat inspect.txt; fail "gradscope inspect $ck failed"; }
cat inspect.txt
timeout 30 "$GRADSCOPE_BIN" inspect "$ck" --json >inspect.json 2>&1 || { cat inspect.json; fail "gradscope inspect --json failed"; }
"$GS_PY" - "$ck" inspect.json <<'PY' || fail "checkpoint or inspect --json not as documented"
import sys, json, h5py
f = h5py.File(sys.argv[1], "r")
step, n_ranks = int(f.attrs["step"]), int(f.attrs["n_ranks"])
steps_expected = 4 * 512 // 64
assert step == steps_expected, f"step {step}, expected {steps_expected} (4 epochs of 8 batches)"
assert n_ranks == 2, f"n_ranks {n_ranks}, expected 2"
assert f["history/loss"].shape[0] == step, f"history/loss has {f['history/loss'].shape[0]} entries"
json.load(open(sys.argv[2]))
print(f"checkpoint: step {step}, n_ranks {n_ranks}; inspect --json parses")
PY
# A config error fails the job before any rank starts, with the message in the log.
if [[ $GS_LAUNCH == mpirun ]]; then
  submit --ntasks=2 --time=1 --output="$WORK/bad.out" --job-name=gs-bad \
    "$GS_SRC/jobs/slurm/train.sbatch" run.ini --set train.no_such_key=1
  wait_state "$JOB" 30 "$WORK/bad.out" FAILED COMPLETED CANCELLED TIMEOUT
  [[ $JOB_STATE == FAILED && $(job_field "$JOB" ExitCode) == 2:0 ]] ||
    { show_job "$JOB" bad.out; fail "a bad config should fail the job with exit code 2"; }
  grep -q 'no_such_key' bad.out || { cat bad.out; fail "the config error is not in the job's log"; }
  echo "bad config: job failed with exit code 2 and said why"
fi
echo "PASS: train.sbatch with 2 tasks (${GS_LAUNCH:-mpirun}) completed and left a readable checkpoint ($(elapsed))"
