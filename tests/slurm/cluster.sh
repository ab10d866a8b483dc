#!/usr/bin/env bash
# A throwaway Slurm cluster for gradscope's job tests: one node on this
# machine, or a virtual cluster of several nodes, each a host of its own.
#
#   cluster.sh start [DIR] [--nodes N]
#                            fresh munged + slurmctld + slurmd(s), all state in
#                            DIR; returns once every node is idle (fails with
#                            the logs after GS_SLURM_START_TIMEOUT seconds,
#                            default 30, or at once when a slurmd dies)
#   cluster.sh stop  [DIR]   cancel every job, stop every daemon by PID, remove
#                            the hosts' namespaces, check that nothing is left;
#                            safe to run twice or after a failed start
#   cluster.sh up / down     the same as start / stop
#   cluster.sh env   [DIR]   print `export ...` lines for eval (SLURM_CONF, and
#                            for a virtual cluster the client wrappers' PATH)
#   cluster.sh check [DIR]   exit 0 if the cluster in DIR answers and every
#                            node's slurmd runs and responds; else say which not
#   cluster.sh nodes [DIR]   the compute nodes' names, one a line
#   cluster.sh revive [DIR] NODE
#                            a virtual cluster's NODE after a test failed it:
#                            whatever is left in its namespace is killed, its
#                            cable plugged back, a fresh slurmd started (clean
#                            spool and TmpFS, as after a reboot); returns once
#                            the node is idle again
#
# One node (the default): slurmctld and slurmd on 127.0.0.1, on this
# machine's own network.
#
# N >= 2 nodes (--nodes N, or GS_SLURM_NODES=N): a virtual cluster built on
# tests/twohost/netns.sh: one host for the controller and N compute hosts,
# each a network namespace with its own hostname, address (198.18.0.0/24,
# only inside namespaces this script creates) and private /etc/hosts, all on
# one bridge. Every compute host runs its own slurmd with its own spool, log,
# PID file and TmpFS (a private directory bind-mounted over $DIR/tmp in the
# host's mount namespace: the PMIx plugin keeps per-job sockets there, named
# by job id, that two "nodes" sharing one directory would fight over). One
# munged serves all (its socket is a file, reachable from every namespace;
# a real site runs one per node, with the same key). Client commands
# (sbatch, squeue, ...) reach the controller from the controller's host:
# `cluster.sh env` puts wrappers first in PATH that run them there (and run
# them directly when already on one of the cluster's hosts, as in a job).
# SlurmdTimeout is GS_SLURMD_TIMEOUT seconds (default 5), so a lost node is
# marked DOWN within seconds.
#
# DIR defaults to $GS_SLURM_DIR, else /tmp/gradscope-slurm-$UID (one node)
# or /tmp/gradscope-vcluster-$UID (several; the other commands look there when
# the first holds no cluster). Needs root (the daemons run as
# SlurmUser=root), the slurm-wlm and munge packages, and for several nodes
# `ip netns` and unshare; without them it exits 77 (CTest's SKIP_RETURN_CODE)
# and says why.
#
# Everything the cluster owns is under DIR and every daemon is started with DIR
# on its command line, so `pgrep -f DIR/` finds exactly this cluster's daemons
# and nothing else on the machine.
#
# For the harness's own tests, GS_CLUSTER_FAULT=KIND:I breaks compute node I
# (1 = the first) of a virtual cluster at start: `noslurmd` (the node is in
# slurm.conf but its slurmd is never started) or `noroute` (its namespace
# loses its route, so it reaches nobody).
set -u

SKIP=77
cmd=${1:-}
shift
DIR= NODES=${GS_SLURM_NODES:-}
while (($#)); do
  case $1 in
    --nodes) NODES=${2:-}; shift 2 || { echo "cluster.sh: --nodes needs a number" >&2; exit 2; } ;;
    --nodes=*) NODES=${1#--nodes=}; shift ;;
    *) if [[ -z $DIR && ($cmd != revive || $# -gt 1) ]]; then DIR=$1
       elif [[ $cmd == revive && -z ${NODE:-} ]]; then NODE=$1
       else echo "cluster.sh: unexpected argument '$1'" >&2; exit 2
       fi
       shift ;;
  esac
done
if [[ -z $DIR ]]; then
  # (a command other than start finds a virtual cluster in its default
  # directory when there is no one-node cluster in the other)
  one=/tmp/gradscope-slurm-$(id -u) several=/tmp/gradscope-vcluster-$(id -u)
  if [[ -n ${GS_SLURM_DIR:-} ]]; then DIR=$GS_SLURM_DIR
  elif ((${NODES:-1} > 1)); then DIR=$several
  elif [[ $cmd != @(start|up) && ! -f $one/slurm.conf && -f $several/slurm.conf ]]; then DIR=$several
  else DIR=$one
  fi
fi
DIR=${DIR%/}
CONF=$DIR/slurm.conf
SOCK=$DIR/munge/munge.socket
NET=$DIR/net   # the virtual cluster's hosts (tests/twohost/netns.sh)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NETNS=$HERE/../twohost/netns.sh
START_TIMEOUT=${GS_SLURM_START_TIMEOUT:-30}

say() { echo "cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# A virtual cluster (several hosts) lives in DIR once its network is up.
is_virtual() { [[ -f $NET/env ]]; }

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

# The compute nodes' names (a virtual cluster's from its hosts file; host 0
# is the controller's).
node_names() {
  if is_virtual; then
    (. "$NET/env"; for ((i = 1; i < TH_N; i++)); do n=TH_H$i; echo "${!n}"; done)
  else
    echo localhost
  fi
}
slurmd_pidfile() { is_virtual && echo "$DIR/node/$1/slurmd.pid" || echo "$DIR/run/slurmd.pid"; }
slurmd_log() { is_virtual && echo "$DIR/log/slurmd-$1.log" || echo "$DIR/log/slurmd.log"; }

# Client commands reach the controller: for a virtual cluster through the
# wrappers in DIR/bin (run in the controller's namespace).
client_env() {
  export SLURM_CONF=$CONF
  is_virtual && [[ :$PATH: != *":$DIR/bin:"* ]] && export PATH=$DIR/bin:$PATH
  return 0
}

do_stop() {
  [[ -d $DIR ]] || return 0
  client_env
  local ctld munge_pid i t0=$SECONDS n p any_slurmd=0 slurmds=()
  ctld=$(pid_from "$DIR/run/slurmctld.pid")
  munge_pid=$(pid_from "$DIR/munge/munged.pid")
  for n in $(node_names); do
    p=$(pid_from "$(slurmd_pidfile "$n")")
    alive "$p" && { slurmds+=("$p"); any_slurmd=1; }
  done
  # Jobs first, while the daemons can still clean up after them.
  if alive "$ctld" && ((any_slurmd)) && [[ -f $CONF ]]; then
    timeout 10 scancel --quiet --signal=KILL --full -u root 2>/dev/null
    timeout 10 scancel --quiet -u root 2>/dev/null
    for ((i = 0; i < 50; i++)); do
      [[ -z $(timeout 5 squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  local daemons=("${slurmds[@]}")
  alive "$ctld" && daemons+=("$ctld")
  stop_pids 10 "${daemons[@]}"
  # Step daemons and job processes left behind (a daemon died, a job hung),
  # then anything else naming DIR; munged last so the others can still
  # authenticate while they shut down.
  local rest=()
  for p in $(owned_pids); do [[ $p != "$munge_pid" ]] && rest+=("$p"); done
  if ((${#rest[@]})); then
    say "leftover processes: $(for p in "${rest[@]}"; do printf '%s(%s) ' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60)"; done)"
    stop_pids 3 "${rest[@]}"
  fi
  # The hosts: whatever still runs in their namespaces (a process that named
  # no path under DIR), then the namespaces and their bridge.
  local net_ok=0
  if is_virtual; then
    local tag
    tag=$(. "$NET/env"; echo "${TH_SW#gs-sw-}")
    bash "$NETNS" down "$NET" || net_ok=1
    if grep -q -- "-$tag\b" /proc/self/mountinfo 2>/dev/null; then
      say "mounts of the namespaces left: $(grep -o -- "[^ ]*-$tag\b" /proc/self/mountinfo | tr '\n' ' ')"
      net_ok=1
    fi
  fi
  alive "$munge_pid" && stop_pids 5 "$munge_pid"
  local left
  left=$(owned_pids)
  if [[ -n $left ]]; then
    say "processes still alive after stop: $(echo $left)"
    return 1
  fi
  ((net_ok == 0)) || return 1
  ((SECONDS - t0 > 5)) && say "stop took $((SECONDS - t0))s"
  return 0
}

show_logs() {
  local f
  for f in "$DIR"/log/slurmctld.log "$DIR"/log/slurmd*.log "$DIR"/munge/munged.log; do
    [[ -f $f ]] || continue
    echo "----- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
}

free_port() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

write_conf() {
  local ctld_port=${GS_SLURM_PORT:-6817} cpus ctld_host nodes_conf part_nodes timeout=60 msg_timeout=10 n i
  cpus=$(nproc)
  if is_virtual; then
    # Own addresses in own namespaces: the default ports are free there.
    # Each host is a 1-CPU node: a job array spreads over the nodes, and a
    # 2-node job takes 2 of this machine's CPUs.
    . "$NET/env"
    ctld_host="$TH_H0($TH_IP0)"
    nodes_conf=
    for ((i = 1; i < TH_N; i++)); do
      n=TH_H$i; local ip=TH_IP$i
      nodes_conf+="NodeName=${!n} NodeAddr=${!ip} CPUs=1 RealMemory=1000 State=UNKNOWN"$'\n'
      part_nodes+=${part_nodes:+,}${!n}
    done
    timeout=${GS_SLURMD_TIMEOUT:-5} msg_timeout=${GS_SLURM_MSG_TIMEOUT:-5}
  else
    # Two consecutive free ports (another cluster may own 6817/6818).
    while ! { free_port "$ctld_port" && free_port $((ctld_port + 1)); }; do
      ctld_port=$((ctld_port + 2))
    done
    ctld_host=localhost
    nodes_conf="NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN"$'\n'
    part_nodes=localhost
  fi
  cat >"$CONF" <<EOF
# Generated by tests/slurm/cluster.sh: a throwaway cluster under $DIR.
ClusterName=gradscope
SlurmctldHost=$ctld_host
SlurmctldPort=$ctld_port
SlurmdPort=$((ctld_port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$DIR/state
# %n: the node's name, so that every node of a virtual cluster has its own
# spool, PID file and log (one node: the same paths as before)
SlurmdSpoolDir=$(is_virtual && echo "$DIR/node/%n/spool" || echo "$DIR/spool")
# The PMIx plugin makes spmix_appdir_<uid>_<job>.<step> under TmpFS; job ids
# restart at 1 with every fresh cluster, so a directory left by a killed
# step must not be in a shared /tmp, where it would break that job id's steps.
# (A virtual cluster's nodes each see their own directory here.)
TmpFS=$DIR/tmp
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$(is_virtual && echo "$DIR/node/%n/slurmd.pid" || echo "$DIR/run/slurmd.pid")
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$(is_virtual && echo "$DIR/log/slurmd-%n.log" || echo "$DIR/log/slurmd.log")
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
# How long a node may stay silent before slurmctld marks it DOWN (and
# requeues or kills its jobs).
SlurmdTimeout=$timeout
# How long slurmctld waits for an answer (a ping of a dead node fails only
# after this: it bounds how soon a lost node is noticed)
MessageTimeout=$msg_timeout
$nodes_conf
PartitionName=debug Nodes=$part_nodes Default=YES MaxTime=INFINITE State=UP
EOF
}

# Client wrappers for a virtual cluster: DIR/bin/<command> runs the real
# command in the controller's namespace, or directly when it already runs on
# one of the cluster's hosts (a job's `srun`, `scontrol requeue`).
write_wrappers() {
  . "$NET/env"
  local c real hosts_ns="" i n
  for ((i = 0; i < TH_N; i++)); do n=TH_NS$i; hosts_ns+="${hosts_ns:+|}${!n}"; done
  mkdir -p "$DIR/bin"
  for c in sbatch srun salloc squeue scontrol scancel sinfo sacct sattach sstat strigger sprio sshare; do
    real=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$c") || continue
    cat >"$DIR/bin/$c" <<EOW
#!/bin/sh
# $c for the virtual cluster in $DIR (generated by tests/slurm/cluster.sh)
case "\$(ip netns identify \$\$ 2>/dev/null)" in
  $hosts_ns) exec "$real" "\$@" ;;
esac
exec "$TH_RUN" "$TH_H0" "$real" "\$@"
EOW
    chmod 755 "$DIR/bin/$c"
  done
}

# Wait until every node is idle; fail at once when a slurmd is gone, and
# after START_TIMEOUT seconds with each node's state otherwise.
wait_idle() {
  local t0=$SECONDS n state states dead p all
  while :; do
    all=1 dead=
    states=$(timeout 5 sinfo -h -N -o '%N %T' 2>/dev/null)
    for n in $(node_names); do
      state=$(awk -v n="$n" '$1 == n { print $2; exit }' <<<"$states")
      [[ $state == idle ]] || all=0
      p=$(pid_from "$(slurmd_pidfile "$n")")
      if [[ -n $p ]] && ! alive "$p"; then dead+="$n(pid $p) "; fi
    done
    ((all)) && return 0
    if [[ -n $dead ]]; then
      say "slurmd died during start-up on: $dead"
      return 1
    fi
    if ((SECONDS - t0 >= START_TIMEOUT)); then
      for n in $(node_names); do
        state=$(awk -v n="$n" '$1 == n { print $2; exit }' <<<"$states")
        [[ $state == idle ]] && continue
        p=$(pid_from "$(slurmd_pidfile "$n")")
        say "node $n not idle after ${START_TIMEOUT}s (state: '${state:-no answer}');" \
          "$(if [[ -z $p ]]; then echo "its slurmd never started (no $(slurmd_pidfile "$n"))"
             elif alive "$p"; then echo "its slurmd (pid $p) runs but did not register"
             else echo "its slurmd (pid $p) is gone"; fi)"
      done
      return 1
    fi
    sleep 0.2
  done
}

do_start() {
  need_tools
  NODES=${NODES:-1}
  [[ $NODES =~ ^[1-9][0-9]?$ ]] || die "--nodes must be 1 to 99, not '$NODES'"
  if ((NODES > 1)); then
    local t
    for t in ip nsenter unshare; do
      command -v "$t" >/dev/null || { say "SKIP: $t not installed (iproute2, util-linux)"; exit $SKIP; }
    done
  fi
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
  local t0=$SECONDS
  if ((NODES > 1)); then
    # The hosts: the controller's, then the compute nodes. The tag is not a
    # PID, so nothing mistakes the namespaces for those of a dead test run.
    local tag=c$$ names=() i rc
    names=("gs$tag-ctl")
    for ((i = 1; i <= NODES; i++)); do names+=("gs$tag-n$i"); done
    TH_TAG=$tag bash "$NETNS" up "$NET" "${names[@]}"
    rc=$?
    ((rc == 0)) || { rm -rf "$DIR"; [[ $rc == "$SKIP" ]] && exit $SKIP; die "the hosts' network did not come up"; }
    fault_noroute
  fi
  mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null 2>&1 ||
    { do_stop; die "mungekey --create --keyfile=$DIR/munge/munge.key failed"; }
  chmod 600 "$DIR/munge/munge.key"
  munged --socket="$SOCK" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
    --seed-file="$DIR/munge/munged.seed" ||
    { show_logs; do_stop; die "munged did not start"; }
  write_conf
  client_env
  if is_virtual; then
    write_wrappers
    . "$NET/env"
    "$TH_RUN" "$TH_H0" slurmctld -f "$CONF" -i ||
      { show_logs; do_stop; die "slurmctld did not start on $TH_H0"; }
    local n i=0
    for n in $(node_names); do
      i=$((i + 1))
      [[ ${GS_CLUSTER_FAULT:-} == noslurmd:$i ]] && { say "fault injected: no slurmd on $n"; continue; }
      start_slurmd "$n" || { show_logs; do_stop; die "slurmd did not start on $n"; }
    done
  else
    slurmctld -f "$CONF" -i || { show_logs; do_stop; die "slurmctld did not start"; }
    slurmd -f "$CONF" -N localhost || { show_logs; do_stop; die "slurmd did not start"; }
  fi
  if ! wait_idle; then
    show_logs
    do_stop
    exit 1
  fi
  say "cluster up in $((SECONDS - t0))s ($(node_names | wc -l) node(s): $(node_names | tr '\n' ' '))" \
    "SLURM_CONF=$CONF$(is_virtual && echo ", clients: PATH=$DIR/bin:\$PATH")"
}

# start_slurmd NODE: a virtual cluster's slurmd on NODE's host, with a fresh
# spool and TmpFS; in the host's own mount namespace its private TmpFS is
# bind-mounted over DIR/tmp.
start_slurmd() {
  local n=$1
  rm -rf "$DIR/node/$n"
  mkdir -p "$DIR/node/$n/spool" "$DIR/node/$n/tmp" && chmod 755 "$DIR/node" "$DIR/node/$n"{,/spool,/tmp} || return 1
  "$TH_RUN" "$n" sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh \
    "$DIR/node/$n/tmp" "$DIR/tmp" slurmd -f "$CONF" -N "$n"
}

do_revive() {
  is_virtual || die "no virtual cluster in $DIR"
  [[ -n ${NODE:-} ]] && node_names | grep -qx -- "$NODE" ||
    die "revive: '${NODE:-}' is not a node of $DIR (nodes: $(node_names | tr '\n' ' '))"
  client_env
  . "$NET/env"
  bash "$NETNS" kill "$NET" "$NODE"
  bash "$NETNS" plug "$NET" "$NODE" || die "revive: cannot plug $NODE back in"
  start_slurmd "$NODE" || { show_logs; die "revive: slurmd did not start on $NODE"; }
  # A node set DOWN for not responding returns by itself when its slurmd
  # registers (ReturnToService=2); one marked DOWN by hand needs RESUME.
  local t0=$SECONDS state
  while ((SECONDS - t0 < START_TIMEOUT)); do
    state=$(timeout 5 sinfo -h -N -n "$NODE" -o %T 2>/dev/null)
    [[ $state == idle ]] && { say "node $NODE is back (idle) after $((SECONDS - t0))s"; return 0; }
    [[ $state == down ]] && timeout 5 scontrol update NodeName="$NODE" State=RESUME 2>/dev/null
    sleep 0.3
  done
  say "revive: node $NODE not idle after ${START_TIMEOUT}s (state '${state:-no answer}')"
  show_logs
  return 1
}

# GS_CLUSTER_FAULT=noroute:I: compute node I's namespace loses its routes; the
# network check must then name it, and start must fail and clean up.
fault_noroute() {
  [[ ${GS_CLUSTER_FAULT:-} == noroute:* ]] || return 0
  local i=${GS_CLUSTER_FAULT#noroute:} ns n
  ns=$(. "$NET/env"; s=TH_NS$i; echo "${!s:-}")
  n=$(. "$NET/env"; h=TH_H$i; echo "${!h:-}")
  [[ $i =~ ^[1-9][0-9]*$ && -n $ns ]] || { do_stop; die "GS_CLUSTER_FAULT=noroute:$i: there is no node $i"; }
  say "fault injected: no route in $n's namespace"
  ip -n "$ns" route flush table main
  if ! bash "$NETNS" check "$NET"; then
    do_stop
    die "the hosts cannot all reach each other (see above)"
  fi
}

# Every node's slurmd runs and the controller sees it responding.
do_check() {
  [[ -f $CONF ]] || { say "no cluster in $DIR"; return 1; }
  client_env
  local states n p state bad=0
  states=$(timeout 5 sinfo -h -N -o '%N %T' 2>/dev/null) || { say "slurmctld in $DIR does not answer (sinfo)"; return 1; }
  for n in $(node_names); do
    p=$(pid_from "$(slurmd_pidfile "$n")")
    if ! alive "$p"; then
      say "node $n: its slurmd (pid ${p:-none}) is not running (log: $(slurmd_log "$n"))"
      bad=1; continue
    fi
    state=$(awk -v n="$n" '$1 == n { print $2; exit }' <<<"$states")
    if [[ $state != @(idle|mixed|allocated|completing) ]]; then
      say "node $n: state '${state:-unknown to slurmctld}'"
      bad=1
    fi
  done
  return $bad
}

case $cmd in
  start|up) do_start ;;
  stop|down)
    what=process
    is_virtual && what="process, namespace or mount"
    do_stop && say "stopped: no $what of $DIR left" || exit 1 ;;
  env)
    [[ -f $CONF ]] || die "no cluster in $DIR (run: $0 start $DIR)"
    echo "export SLURM_CONF=$CONF"
    is_virtual && echo "export PATH=$DIR/bin:\$PATH"
    ;;
  check) do_check ;;
  nodes) [[ -f $CONF ]] || die "no cluster in $DIR"; node_names ;;
  revive) do_revive ;;
  *)
    echo "usage: $0 start|stop|up|down|env|check|nodes [DIR] [--nodes N] | revive [DIR] NODE" >&2
    exit 2 ;;
esac
