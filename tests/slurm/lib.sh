# Helpers for gradscope's Slurm job tests (sourced by tests/test_slurm_*.sh).
#
# The cluster is started once by the CTest fixture (tests/slurm.cmake:
# slurm_cluster_start / slurm_cluster_stop) in GS_SLURM_DIR, default
# /tmp/gradscope-slurm-$UID; every test uses that directory. With
# GS_SLURM_NODES=N > 1 (the vcluster_* tests) it is the virtual N-node
# cluster, default /tmp/gradscope-vcluster-$UID, as in cluster.sh.
# Each helper fails loudly: a test never hangs and never passes by accident.

if ((${GS_SLURM_NODES:-1} > 1)); then
  GS_SLURM_DIR=${GS_SLURM_DIR:-/tmp/gradscope-vcluster-$(id -u)}
else
  GS_SLURM_DIR=${GS_SLURM_DIR:-/tmp/gradscope-slurm-$(id -u)}
fi
GS_SLURM_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GS_SRC=${GRADSCOPE_SRC:-$(cd "$GS_SLURM_TESTS/../.." && pwd)}
GS_PY=/usr/bin/python3   # Debian's python3: h5py, numpy, matplotlib
T0=$SECONDS

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# Skip when Slurm or munge is not installed or not root (as cluster.sh does),
# fail when they are but the fixture's cluster is not up.
slurm_setup() {
  local t
  for t in munged slurmctld slurmd sbatch squeue scontrol scancel srun; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not installed (apt-get install slurm-wlm munge)"
  done
  [[ $(id -u) == 0 ]] || skip "needs root (the test cluster runs its daemons as SlurmUser=root)"
  # (the virtual cluster's start skipped for the same reasons: skip, not fail)
  if ((${GS_SLURM_NODES:-1} > 1)); then
    for t in ip nsenter unshare; do
      command -v "$t" >/dev/null 2>&1 || skip "$t not installed (iproute2, util-linux): no virtual cluster"
    done
    unshare --net true 2>/dev/null || skip "network namespaces are not available here: no virtual cluster"
  fi
  [[ -f $GS_SLURM_DIR/slurm.conf ]] ||
    fail "no test cluster in $GS_SLURM_DIR (the fixture test slurm_cluster_start did not run or failed)"
  # SLURM_CONF, and for a virtual cluster the client wrappers' PATH
  eval "$(bash "$GS_SLURM_TESTS/cluster.sh" env "$GS_SLURM_DIR")"
  bash "$GS_SLURM_TESTS/cluster.sh" check "$GS_SLURM_DIR" ||
    fail "the test cluster in $GS_SLURM_DIR is not healthy (see above)"
}

# The gradscope binary, from CTest's GRADSCOPE_BIN.
need_gradscope() {
  [[ -n ${GRADSCOPE_BIN:-} && -x $GRADSCOPE_BIN ]] ||
    fail "GRADSCOPE_BIN='${GRADSCOPE_BIN:-}' is not an executable (run through ctest)"
}

# A fresh work directory for this test under the cluster directory.
workdir() {
  WORK=$GS_SLURM_DIR/work/$1
  rm -rf "$WORK"
  mkdir -p "$WORK" || fail "cannot create $WORK"
  chmod 755 "$GS_SLURM_DIR/work" "$WORK"
  cd "$WORK" || fail "cannot cd to $WORK"
}

# job_field ID FIELD: one field of `scontrol show job` (empty once Slurm has
# forgotten the job, MinJobAge after it ended).
job_field() {
  timeout 10 scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

# show_job ID LOG...: what a failure message needs.
show_job() {
  local id=$1 f
  shift
  echo "----- scontrol show job $id" >&2
  timeout 10 scontrol show job "$id" >&2 2>&1
  for f in "$@"; do
    [[ -f $f ]] || { echo "----- $f: missing" >&2; continue; }
    echo "----- tail of $f" >&2
    tail -n 40 "$f" >&2
  done
  for f in "$GS_SLURM_DIR"/log/slurmctld.log "$GS_SLURM_DIR"/log/slurmd*.log; do
    echo "----- tail of $f" >&2
    tail -n 10 "$f" >&2
  done
}

# wait_state ID DEADLINE_S LOG STATE...: poll until the job's state is one of
# STATE (sets JOB_STATE); on timeout cancel the job and fail with its log.
wait_state() {
  local id=$1 wait_s=$2 deadline=$((SECONDS + $2)) log=$3 s
  shift 3
  while ((SECONDS < deadline)); do
    JOB_STATE=$(job_field "$id" JobState)
    for s in "$@"; do
      [[ $JOB_STATE == "$s" ]] && return 0
    done
    sleep 0.25
  done
  show_job "$id" "$log"
  timeout 10 scancel "$id" 2>/dev/null
  fail "job $id not in state ($*) after ${wait_s}s: state '${JOB_STATE:-gone}'"
}

# wait_done ID DEADLINE_S LOG: until the job ended; fail unless COMPLETED with
# exit code 0:0.
wait_done() {
  local id=$1
  wait_state "$id" "$2" "$3" COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY PREEMPTED BOOT_FAIL DEADLINE
  local ec
  ec=$(job_field "$id" ExitCode)
  if [[ $JOB_STATE != COMPLETED || $ec != 0:0 ]]; then
    show_job "$id" "$3"
    fail "job $id ended $JOB_STATE, exit code $ec"
  fi
}

# submit ARGS...: sbatch --parsable, sets JOB; fails with sbatch's message.
submit() {
  local out
  out=$(timeout 20 sbatch --parsable "$@" 2>&1) || fail "sbatch $* failed: $out"
  JOB=${out%%;*}
  [[ $JOB =~ ^[0-9]+$ ]] || fail "sbatch printed no job id: $out"
}

# A small training config: 2 -> 32 -> 32 -> 3 on the built-in spiral set.
# write_config FILE CKPT_DIR [section.key=value...]  (replaces or adds keys)
write_config() {
  local file=$1 dir=$2 kv
  shift 2
  cat >"$file" <<EOF
[model]
layers = 2, 32, 32, 3
activation = tanh
init = xavier_normal
output = softmax

[data]
synthetic = spiral
n_train = 512
n_test = 128

[train]
epochs = 4
batch_size = 64
seed = 7
log_every = 8

[optimizer]
lr = 0.1
momentum = 0.9

[checkpoint]
dir = $dir
every_steps = 16
keep = 3
EOF
  for kv in "$@"; do ini_set "$file" "$kv" || return 1; done
}

# ini_set FILE section.key=value: replace the key in its section, or add it
# at the end of the section (gradscope rejects a key given twice).
ini_set() {
  local file=$1 sec=${2%%.*} rest=${2#*.}
  local key=${rest%%=*} val=${rest#*=}
  [[ $2 == *.*=* ]] || { echo "ini_set: '$2' is not section.key=value" >&2; return 1; }
  awk -v sec="$sec" -v key="$key" -v val="$val" '
    function flush() { if (insec && !done) { print key " = " val; done = 1 } }
    /^\[/ { flush(); insec = ($0 == "[" sec "]") }
    insec && $1 == key && ($2 == "=" || substr($1, length(key) + 1, 1) == "=") { print key " = " val; done = 1; next }
    { print }
    END { flush(); if (!done) { print "[" sec "]"; print key " = " val } }
  ' "$file" >"$file.tmp" && mv "$file.tmp" "$file"
}

# same_weights A.h5 B.h5: every /model and /optimizer dataset bitwise equal.
same_weights() {
  "$GS_PY" - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
names = []
def walk(g, prefix):
    for k, v in g.items():
        if isinstance(v, h5py.Dataset):
            names.append(prefix + k)
        else:
            walk(v, prefix + k + "/")
for top in ("model", "optimizer"):
    if top in a:
        walk(a[top], top + "/")
weights = [n for n in names if n.endswith("/weight") or n.endswith("/bias")]
if not any(n.startswith("model/") for n in weights):
    sys.exit(f"no /model/*/weight datasets in {sys.argv[1]}")
bad = 0
for n in weights:
    if n not in b:
        print(f"{n}: missing in {sys.argv[2]}"); bad += 1; continue
    x, y = a[n][()], b[n][()]
    if x.shape != y.shape or x.dtype != y.dtype:
        print(f"{n}: shape/type {x.shape} {x.dtype} vs {y.shape} {y.dtype}"); bad += 1
    elif x.tobytes() != y.tobytes():
        d = np.abs(x.astype(np.float64) - y.astype(np.float64))
        print(f"{n}: differs in {np.count_nonzero(d)} of {d.size} values, max abs diff {d.max():.3g}"); bad += 1
if int(a.attrs["step"]) != int(b.attrs["step"]):
    print(f"step {a.attrs['step']} vs {b.attrs['step']}"); bad += 1
print(f"compared {len(weights)} datasets at step {int(a.attrs['step'])}: "
      + ("bitwise equal" if not bad else f"{bad} differ"))
sys.exit(1 if bad else 0)
EOF
}

# latest_ckpt DIR: the checkpoint DIR/latest points at (else the newest).
latest_ckpt() {
  local d=$1 name
  if [[ -s $d/latest ]]; then
    name=$(head -n1 "$d/latest")
    [[ $name == /* ]] || name=$d/$name
    [[ -f $name ]] && { echo "$name"; return 0; }
  fi
  ls "$d"/ckpt_*.h5 2>/dev/null | tail -n1
}

elapsed() { echo "$((SECONDS - T0))s"; }
