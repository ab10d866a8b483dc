#!/usr/bin/env bash
# A throwaway single-node Slurm cluster for gradscope's job tests.
#
#   cluster.sh start [DIR]   fresh munged + slurmctld + slurmd, all state in DIR;
#                            returns once the node is idle (fails with the logs
#                            after GS_SLURM_START_TIMEOUT seconds, default 30)
#   cluster.sh stop  [DIR]   cancel every job, stop every daemon by PID, check
#                            that none is left; safe to run twice or after a
#                            failed start
#   cluster.sh env   [DIR]   print `export SLURM_CONF=...` lines for eval
#   cluster.sh check [DIR]   exit 0 if the cluster in DIR answers
#
# DIR defaults to $GS_SLURM_DIR or /tmp/gradscope-slurm-$UID. Needs root (the
# daemons run as SlurmUser=root) and the slurm-wlm and munge packages; without
# them it exits 77 (CTest's SKIP_RETURN_CODE) and says why.
#
# Everything the cluster owns is under DIR and every daemon is started with DIR
# on its command line, so `pgrep -f DIR/` finds exactly this cluster's daemons
# and nothing else on the machine.
set -u

SKIP=77
cmd=${1:-}
DIR=${2:-${GS_SLURM_DIR:-/tmp/gradscope-slurm-$(id -u)}}
DIR=${DIR%/}
CONF=$DIR/slurm.conf
SOCK=$DIR/munge/munge.socket
START_TIMEOUT=${GS_SLURM_START_TIMEOUT:-30}

say() { echo "cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

need_tools() {
  local missing=() t
  for t in munged mungekey slurmctld slurmd sinfo sbatch squeue scontrol scancel srun; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if ((${#missing[@]})); then
    say "SKIP: not installed: ${missing[*]} (apt-get install slurm-wlm munge)"
    exit $SKIP
  fi
  if [[ $(id -u) != 0 ]]; then
    say "SKIP: needs root (the throwaway cluster runs its daemons as SlurmUser=root)"
    exit $SKIP
  fi
}

# line: the array words joined by newlines, with one before and after.
join_lines() { local IFS=$'\n'; line=$'\n'"${words[*]}"$'\n'; }

# Every live process this cluster owns, one PID a line:
#  - daemons: started with paths under DIR on their command line;
#  - step daemons (slurmstepd, which daemonizes away from slurmd): cwd in DIR;
#  - job processes, even orphaned ones: SLURM_CONF=$CONF and SLURM_JOB_ID in
#    their environment.
# This script, its subshells and its ancestors are never included.
# Only bash builtins per process (no fork): a scan of a few hundred
# processes stays well under a second even on a busy machine.
owned_pids() {
  local p pid st state ppid skip=" $$ $BASHPID " a line cwd
  local -a words
  a=$$
  while [[ $a -gt 1 ]]; do
    read -r line 2>/dev/null <"/proc/$a/stat" || break
    read -r _ a _ <<<"${line##*) }"
    skip+="$a "
  done
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ $skip == *" $pid "* ]] && continue
    { read -r st <"$p/stat"; } 2>/dev/null || continue
    read -r state ppid _ <<<"${st##*) }"
    [[ $state == Z ]] && continue
    # our own subshells
    [[ $ppid == "$$" || $ppid == "$BASHPID" ]] && continue
    { mapfile -d '' words <"$p/cmdline"; } 2>/dev/null || continue
    if [[ "${words[*]}" == *"$DIR/"* ]]; then
      echo "$pid"; continue
    fi
    line=${st#*(}
    if [[ ${line%%)*} == slurmstepd* ]]; then
      cwd=$(readlink "$p/cwd" 2>/dev/null)
      [[ $cwd == "$DIR"/* ]] && { echo "$pid"; continue; }
    fi
    { mapfile -d '' words <"$p/environ"; } 2>/dev/null || continue
    join_lines
    if [[ $line == *$'\n'"SLURM_CONF=$CONF"$'\n'* && $line == *$'\n'SLURM_JOB_ID=* ]]; then
      echo "$pid"
    fi
  done
}

pid_from() { [[ -s $1 ]] && cat "$1" 2>/dev/null; }

alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null &&
    [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

# Stop PIDs: TERM, wait up to $1 s for all, then KILL what is left.
stop_pids() {
  local wait_s=$1 i p left
  shift
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null
  for ((i = 0; i < wait_s * 10; i++)); do
    left=()
    for p in "$@"; do alive "$p" && left+=("$p"); done
    ((${#left[@]})) || return 0
    sleep 0.1
  done
  say "ignored SIGTERM for ${wait_s}s, SIGKILL: ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null
  sleep 0.3
}

do_stop() {
  [[ -d $DIR ]] || return 0
  export SLURM_CONF=$CONF
  local ctld slurmd munge_pid i t0=$SECONDS
  ctld=$(pid_from "$DIR/run/slurmctld.pid")
  slurmd=$(pid_from "$DIR/run/slurmd.pid")
  munge_pid=$(pid_from "$DIR/munge/munged.pid")
  # Jobs first, while the daemons can still clean up after them.
  if alive "$ctld" && alive "$slurmd" && [[ -f $CONF ]]; then
    timeout 10 scancel --quiet --signal=KILL --full -u root 2>/dev/null
    timeout 10 scancel --quiet -u root 2>/dev/null
    for ((i = 0; i < 50; i++)); do
      [[ -z $(timeout 5 squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  local daemons=()
  alive "$slurmd" && daemons+=("$slurmd")
  alive "$ctld" && daemons+=("$ctld")
  stop_pids 10 "${daemons[@]}"
  # Step daemons and job processes left behind (a daemon died, a job hung),
  # then anything else naming DIR; munged last so the others can still
  # authenticate while they shut down.
  local rest=() p
  for p in $(owned_pids); do [[ $p != "$munge_pid" ]] && rest+=("$p"); done
  if ((${#rest[@]})); then
    say "leftover processes: $(for p in "${rest[@]}"; do printf '%s(%s) ' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60)"; done)"
    stop_pids 3 "${rest[@]}"
  fi
  alive "$munge_pid" && stop_pids 5 "$munge_pid"
  local left
  left=$(owned_pids)
  if [[ -n $left ]]; then
    say "processes still alive after stop: $(echo $left)"
    return 1
  fi
  ((SECONDS - t0 > 5)) && say "stop took $((SECONDS - t0))s"
  return 0
}

show_logs() {
  local f
  for f in "$DIR"/log/slurmctld.log "$DIR"/log/slurmd.log "$DIR"/munge/munged.log; do
    [[ -f $f ]] || continue
    echo "----- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
}

free_port() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

write_conf() {
  local ctld_port=${GS_SLURM_PORT:-6817} cpus
  cpus=$(nproc)
  # Two consecutive free ports (another cluster may own 6817/6818).
  while ! { free_port "$ctld_port" && free_port $((ctld_port + 1)); }; do
    ctld_port=$((ctld_port + 2))
  done
  cat >"$CONF" <<EOF
# Generated by tests/slurm/cluster.sh: a throwaway one-node cluster under $DIR.
ClusterName=gradscope
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$((ctld_port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
# The PMIx plugin makes spmix_appdir_<uid>_<job>.<step> under TmpFS; job ids
# restart at 1 with every fresh cluster, so a directory left by a killed
# step must not be in a shared /tmp, where it would break that job id's steps.
TmpFS=$DIR/tmp
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_min_interval=100000
MpiDefault=pmix
ReturnToService=2
EnforcePartLimits=ALL
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
# Short-lived job records and a quick kill at the time limit: tests are short.
MinJobAge=30
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

do_start() {
  need_tools
  do_stop || die "could not stop a previous cluster in $DIR"
  rm -rf "$DIR"
  mkdir -p "$DIR"/{munge,state,spool,run,log,tmp} || die "cannot create $DIR"
  # munged refuses a socket whose directories others cannot traverse, and a
  # key or directory that others can write.
  chmod 755 "$DIR" "$DIR"/*
  local d=$DIR
  while [[ $d != / && -n $d ]]; do
    d=$(dirname "$d")
    [[ $(($(stat -c %a "$d" 2>/dev/null || echo 0) & 1)) == 1 ]] ||
      die "$d is not o+x: munged's socket under it cannot be reached"
  done
  mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null 2>&1 ||
    die "mungekey --create --keyfile=$DIR/munge/munge.key failed"
  chmod 600 "$DIR/munge/munge.key"
  munged --socket="$SOCK" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
    --seed-file="$DIR/munge/munged.seed" ||
    { show_logs; die "munged did not start"; }
  write_conf
  export SLURM_CONF=$CONF
  slurmctld -f "$CONF" -i || { show_logs; die "slurmctld did not start"; }
  slurmd -f "$CONF" -N localhost || { show_logs; die "slurmd did not start"; }
  local t0=$SECONDS state=
  while ((SECONDS - t0 < START_TIMEOUT)); do
    state=$(timeout 5 sinfo -h -N -n localhost -o %T 2>/dev/null)
    [[ $state == idle ]] && break
    sleep 0.2
  done
  if [[ $state != idle ]]; then
    say "node not idle after ${START_TIMEOUT}s (state: '${state:-no answer}')"
    show_logs
    do_stop
    exit 1
  fi
  say "cluster up in $((SECONDS - t0))s: SLURM_CONF=$CONF"
}

case $cmd in
  start) do_start ;;
  stop)
    do_stop && say "stopped: no process of $DIR left" || exit 1 ;;
  env)
    [[ -f $CONF ]] || die "no cluster in $DIR (run: $0 start $DIR)"
    echo "export SLURM_CONF=$CONF" ;;
  check)
    [[ -f $CONF ]] || exit 1
    [[ $(SLURM_CONF=$CONF timeout 5 sinfo -h -N -n localhost -o %T 2>/dev/null) == @(idle|mixed|allocated) ]] ;;
  *)
    echo "usage: $0 start|stop|env|check [DIR]" >&2
    exit 2 ;;
esac
