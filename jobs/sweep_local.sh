#!/usr/bin/env bash
# The init x activation x depth sweep: how the initialization scheme decides
# whether gradients reach the first layer of a deep network.
#
#   jobs/sweep_local.sh [-j N]          run every task here, N at a time (default 1)
#   jobs/sweep_local.sh --task I        run task I only (what each Slurm array task does)
#   jobs/sweep_local.sh --list          print "I init activation depth dir" per task
#   jobs/sweep_local.sh --count         print the number of tasks
#   jobs/sweep_local.sh ... -- ARGS     pass ARGS (e.g. --set train.epochs=2) to every run
#
# then: jobs/sweep_summary.py runs/sweep [--png runs/sweep/summary.png]
#
# The grid (environment, space-separated lists):
#   SWEEP_INITS    zeros normal xavier_normal he_normal   (normal: std from the config, 1.0)
#   SWEEP_ACTS     sigmoid tanh relu
#   SWEEP_DEPTHS   shallow deep        shallow = SWEEP_SHALLOW (3) hidden layers,
#                                      deep = SWEEP_DEEP (20) hidden layers,
#                                      each SWEEP_WIDTH (128) wide
#   SWEEP_INPUTS / SWEEP_CLASSES       input and output width (2 / 3: the spiral set)
# Task I is ((init * n_acts) + act) * n_depths + depth, in the order above.
# Other settings:
#   SWEEP_CONFIG   base config (default jobs/configs/sweep_base.ini next to this script)
#   SWEEP_DIR      where run directories go (default runs/sweep); each task
#                  writes SWEEP_DIR/<init>-<act>-<depth>/ (checkpoints, train.log, status)
#   SWEEP_NP       ranks per task (default 1)
#   SWEEP_LAUNCH   launcher command, word-split (default "mpirun -np $SWEEP_NP";
#                  the Slurm array script sets it to mpirun or srun --mpi=pmix)
#   GRADSCOPE_BIN  the gradscope binary (default: gradscope in PATH, else build/gradscope)
#
# Every run uses --resume auto, so rerunning the sweep continues unfinished
# tasks and leaves finished ones as they are (they resume at their last step).
# A task that diverges (gradscope exit 5, non-finite loss) is a result of the
# sweep, not a failure: it is recorded in its `status` file and the task
# counts as done. Exit status 75 (stopped by a signal) is passed on so that
# the Slurm script can requeue.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Open MPI refuses root unless told, and more ranks than cores need oversubscribe.
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
read -r -a inits <<<"${SWEEP_INITS:-zeros normal xavier_normal he_normal}"
read -r -a acts <<<"${SWEEP_ACTS:-sigmoid tanh relu}"
read -r -a depths <<<"${SWEEP_DEPTHS:-shallow deep}"
width=${SWEEP_WIDTH:-128}
n_in=${SWEEP_INPUTS:-2}
n_out=${SWEEP_CLASSES:-3}
config=${SWEEP_CONFIG:-$here/configs/sweep_base.ini}
out=${SWEEP_DIR:-runs/sweep}
np=${SWEEP_NP:-1}
read -r -a launch <<<"${SWEEP_LAUNCH:-mpirun -np $np}"
n_tasks=$((${#inits[@]} * ${#acts[@]} * ${#depths[@]}))

usage() { sed -n '2,/^set -u/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

hidden_of() {
  case $1 in
    shallow) echo "${SWEEP_SHALLOW:-3}" ;;
    deep) echo "${SWEEP_DEEP:-20}" ;;
    *[!0-9]* | '') echo "sweep_local.sh: depth '$1' is not shallow, deep or a number" >&2; return 1 ;;
    *) echo "$1" ;;
  esac
}

# task I -> "init act depth"
task_params() {
  local i=$1 nd=${#depths[@]} na=${#acts[@]}
  echo "${inits[i / (na * nd)]} ${acts[(i / nd) % na]} ${depths[i % nd]}"
}

layers_for() {
  local h l
  h=$(hidden_of "$1") || return 1
  l=$n_in
  for ((k = 0; k < h; k++)); do l+=", $width"; done
  echo "$l, $n_out"
}

run_task() {
  local i=$1
  shift
  if ! [[ $i =~ ^[0-9]+$ ]] || ((i >= n_tasks)); then
    echo "sweep_local.sh: task $i out of range 0..$((n_tasks - 1))" >&2
    return 2
  fi
  local init act depth layers dir gs rc
  read -r init act depth <<<"$(task_params "$i")"
  layers=$(layers_for "$depth") || return 2
  dir=$out/$init-$act-$depth
  gs=${GRADSCOPE_BIN:-$(command -v gradscope || echo "$here/../build/gradscope")}
  mkdir -p "$dir" || return 1
  echo "== task $i/$n_tasks: init=$init activation=$act depth=$depth ($layers) -> $dir"
  # In the background, so that SIGUSR1/SIGTERM (from Slurm, via sweep.sbatch)
  # can be passed on as SIGUSR1: the launcher forwards it to the ranks, which
  # checkpoint and exit 75. A bash trap runs only between commands.
  local child= launched_at
  # (a signal before the launch is not passed on: see train.sbatch)
  trap '[[ -n ${child:-} ]] && kill -USR1 "$child" 2>/dev/null' USR1 TERM
  launched_at=$(date +%s)
  OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} \
    "${launch[@]}" "$gs" train "$config" \
    --set "model.init=$init" --set "model.activation=$act" --set "model.layers=$layers" \
    --set "checkpoint.dir=$dir" --resume auto "$@" >>"$dir/train.log" 2>&1 &
  child=$!
  while ! wait "$child"; do kill -0 "$child" 2>/dev/null || break; done
  wait "$child"   # bash keeps the status of a reaped child: this is its exit status
  rc=$?
  trap - USR1 TERM
  # srun returns 0 when its tasks fail to launch at all (Slurm 22.05): finished
  # also needs the final checkpoint, which gradscope always writes
  if ((rc == 0)) && { [[ ! -f $dir/latest ]] || (($(stat -c %Y "$dir/latest") < launched_at)); }; then
    echo "== task $i: the launcher reported success but no checkpoint was written to $dir since the launch" \
      "(the ranks did not run)" >>"$dir/train.log"
    rc=1
  fi
  echo "$rc" >"$dir/status"
  case $rc in
    0) echo "== task $i: done" ;;
    5) echo "== task $i: diverged (non-finite loss), recorded in $dir/status" ; rc=0 ;;
    75) echo "== task $i: stopped by a signal after a checkpoint (75)" ;;
    *) echo "== task $i: FAILED with status $rc; last lines of $dir/train.log:" >&2
       tail -n 15 "$dir/train.log" >&2 ;;
  esac
  return "$rc"
}

jobs_n=1 task= mode=run
extra=()
while (($#)); do
  case $1 in
    -j) jobs_n=${2:?-j needs N}; shift 2 ;;
    -j*) jobs_n=${1#-j}; shift ;;
    --task) task=${2:?--task needs I}; mode=task; shift 2 ;;
    --list) mode=list; shift ;;
    --count) mode=count; shift ;;
    -h | --help) usage ;;
    --) shift; extra=("$@"); break ;;
    *) echo "sweep_local.sh: unexpected argument '$1'" >&2; usage ;;
  esac
done

case $mode in
  count) echo "$n_tasks"; exit 0 ;;
  list)
    for ((i = 0; i < n_tasks; i++)); do
      read -r init act depth <<<"$(task_params "$i")"
      echo "$i $init $act $depth $out/$init-$act-$depth"
    done
    exit 0 ;;
  task) run_task "$task" "${extra[@]}"; exit ;;
esac

[[ -f $config ]] || { echo "sweep_local.sh: no config $config" >&2; exit 2; }
failed=0 running=0 pids=()
# Pass a stop request on to every running task (each forwards it to its ranks).
trap 'kill -USR1 "${pids[@]}" 2>/dev/null' USR1 TERM
reap() {
  local rc
  while :; do
    wait -n
    rc=$?
    # >128 with every task still alive: a trapped signal, not a task's end
    if ((rc > 128)); then
      local p alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
      ((alive == running)) && continue
    fi
    break
  done
  ((rc == 0)) || failed=$((failed + 1))
  running=$((running - 1))
}
for ((i = 0; i < n_tasks; i++)); do
  ((running >= jobs_n)) && reap
  run_task "$i" "${extra[@]}" &
  pids+=($!)
  running=$((running + 1))
done
while ((running > 0)); do reap; done
echo "== sweep: $n_tasks tasks, $failed failed; summary: $here/sweep_summary.py $out"
((failed == 0))
