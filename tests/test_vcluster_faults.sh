#!/usr/bin/env bash
# Faults of the virtual cluster itself (tests/slurm/cluster.sh --nodes N):
# each gives a clear error within seconds, and the harness leaves no
# namespace, daemon or mount behind.
#
#  1. a node of slurm.conf that never comes up (its slurmd is never started,
#     GS_CLUSTER_FAULT=noslurmd:2): `cluster.sh start --nodes 2` fails after
#     GS_SLURM_START_TIMEOUT (6 s here), naming the node and why;
#  2. a namespace without its route (GS_CLUSTER_FAULT=noroute:2): start fails
#     at its network check, naming the hosts that cannot reach each other;
#  3. a slurmd that dies before the job starts (on the fixture's three-node
#     cluster): `cluster.sh check` names the node; a 2-node job placed on it
#     ends its first run within seconds, its log naming the node that did not
#     answer train.sbatch's probe step, and is requeued instead of training
#     on a broken allocation (or Slurm, if it saw the node die first, does not
#     start the job there at all).
set -u
. "$(dirname "$0")/slurm/lib.sh"
slurm_setup
need_gradscope
workdir faults
CLUSTER=$GS_SLURM_TESTS/cluster.sh
[[ -f $GS_SLURM_DIR/net/env ]] || fail "$GS_SLURM_DIR is not a virtual cluster (start it with cluster.sh start --nodes 3)"

fdir= victim= JOB=
cleanup() {
  [[ -n $fdir ]] && { bash "$CLUSTER" stop "$fdir" >/dev/null 2>&1; rm -rf "$fdir"; }
  [[ -n $JOB ]] && timeout 10 scancel "$JOB" 2>/dev/null
  [[ -n $victim ]] && { bash "$CLUSTER" revive "$GS_SLURM_DIR" "$victim" || echo "WARNING: could not revive $victim" >&2; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# leftovers TAG: namespaces and their mounts of the cluster whose names carry
# TAG (cluster.sh names hosts gs<TAG>-..., namespaces gs-*-<TAG>)
leftovers() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -- "-$1\$"
  grep -o "/run/netns/[^ ]*-$1\b" /proc/self/mountinfo
}

# broken_start FAULT MAX_S PATTERN: start a 2-node cluster with the fault; it
# must fail within MAX_S seconds with PATTERN in its message, and leave
# nothing behind.
broken_start() {
  local fault=$1 max=$2 pattern=$3 t0 rc out tag
  fdir=$(mktemp -d /tmp/gradscope-vcfault.XXXXXX) || fail "mktemp"
  chmod 755 "$fdir"
  t0=$SECONDS
  out=$(GS_CLUSTER_FAULT=$fault GS_SLURM_START_TIMEOUT=6 timeout 120 bash "$CLUSTER" start "$fdir" --nodes 2 2>&1)
  rc=$?
  local took=$((SECONDS - t0))
  grep -v '^\[\|^20[0-9][0-9]-\|^-----' <<<"$out" | sed 's/^/  | /'
  ((rc == 1)) || fail "$fault: cluster.sh start exited $rc, expected 1"
  ((took <= max)) || fail "$fault: the error took ${took}s (more than ${max}s)"
  grep -qE "$pattern" <<<"$out" || fail "$fault: no message matching '$pattern'"
  [[ -z $(pgrep -f "$fdir/") ]] || fail "$fault: processes of $fdir survive: $(pgrep -af "$fdir/")"
  tag=$(grep -o 'gsc[0-9]*-' <<<"$out" | head -n1)
  tag=${tag#gs}
  tag=${tag%-}
  [[ -n $tag ]] || fail "$fault: no host name in the message"
  [[ -z $(leftovers "$tag") ]] || fail "$fault: left behind: $(leftovers "$tag" | tr '\n' ' ')"
  rm -rf "$fdir"
  fdir=
  echo "$fault: start failed in ${took}s with a clear message; nothing left ($(elapsed))"
}

# 1. A slurm.conf node whose slurmd never starts.
broken_start noslurmd:2 30 "node gs[^ ]*-n2 not idle after 6s .*its slurmd never started"
# 2. A host without its route.
broken_start noroute:2 30 "host gs[^ ]*-n2 cannot reach .*Network is unreachable"

# 3. A slurmd that dies before the job starts.
mapfile -t nodes < <(bash "$CLUSTER" nodes "$GS_SLURM_DIR")
((${#nodes[@]} >= 3)) || fail "need 3 nodes, the cluster has ${#nodes[@]}"
victim=${nodes[2]}
pid=$(cat "$GS_SLURM_DIR/node/$victim/slurmd.pid" 2>/dev/null)
[[ -n $pid ]] && kill -KILL "$pid" || fail "cannot kill the slurmd of $victim (pid '$pid')"
t0=$SECONDS
if out=$(bash "$CLUSTER" check "$GS_SLURM_DIR" 2>&1); then
  fail "cluster.sh check passed with the slurmd of $victim dead"
fi
echo "$out" | sed 's/^/  | /'
grep -q "node $victim: its slurmd (pid $pid) is not running" <<<"$out" || fail "cluster.sh check does not name $victim's dead slurmd"
echo "cluster.sh check named the dead slurmd of $victim in $((SECONDS - t0))s"

write_config run.ini "$WORK/ckpt" train.max_steps=24
t0=$SECONDS
submit -N 2 --ntasks-per-node=1 -w "${nodes[0]},$victim" --time=2 --output="$WORK/dead.out" --job-name=gs-dead \
  "$GS_SRC/jobs/slurm/train.sbatch" run.ini
outcome=
while ((SECONDS - t0 < 60)); do
  if grep -q "node failure before the launch: $victim did not answer" dead.out 2>/dev/null; then
    outcome=script; break
  fi
  reason=$(job_field "$JOB" Reason) state=$(job_field "$JOB" JobState)
  if [[ $state == PENDING && $reason == @(*NodeDown*|*ReqNodeNotAvail*) && $(job_field "$JOB" Restarts) == 0 ]]; then
    outcome=slurm; break
  fi
  [[ $state == @(COMPLETED|FAILED|CANCELLED|TIMEOUT) ]] && break
  sleep 0.25
done
took=$((SECONDS - t0))
case $outcome in
  script)
    # the first run ends, requeued, without training
    deadline=$((SECONDS + 30))
    until [[ $(job_field "$JOB" Restarts) == 1 ]]; do
      ((SECONDS < deadline)) || { show_job "$JOB" dead.out; fail "the job was not requeued after its probe failed"; }
      sleep 0.25
    done
    cat dead.out
    grep -q '^resume:' dead.out && fail "the job started training on a node that does not answer"
    ((took <= 30)) || fail "the probe took ${took}s to name $victim (more than 30 s)"
    echo "the job's probe named $victim in ${took}s; requeued without training" ;;
  slurm)
    echo "Slurm saw $victim down first and holds the job (Reason=$reason) in ${took}s" ;;
  *)
    show_job "$JOB" dead.out
    fail "no clear error within 60 s for a job on $victim, whose slurmd is dead (state $(job_field "$JOB" JobState))" ;;
esac
timeout 10 scancel "$JOB"
echo "PASS: a node that never comes up, a host without its route, a dead slurmd: clear errors within seconds, nothing left ($(elapsed))"
