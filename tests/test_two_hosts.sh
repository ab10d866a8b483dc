#!/usr/bin/env bash
# MPI across two hosts, simulated on one machine with two network namespaces
# (tests/twohost/netns.sh): Open MPI starts the remote side through an rsh
# agent, and all MPI traffic goes over TCP, through a bridge, in 198.18.0.0/24.
#
#   test_two_hosts.sh hostname   2 ranks on 2 hosts report 2 different names
#   test_two_hosts.sh train      gradscope trains with 1 rank on each host; its
#                                final weights must equal, bit for bit, those of
#                                the same 2-rank run on one host (2-rank sums
#                                are a+b on every rank whatever the transport,
#                                so nothing but bitwise equality is acceptable;
#                                the two "hosts" share this machine's build and
#                                OpenBLAS kernel, as the nodes of a real job
#                                must for bitwise results)
#   test_two_hosts.sh reproducible   [train] reproducible = true: 1 rank on
#                                each host, and 1 and 3 ranks on one host,
#                                write the same datasets, bit for bit
#
# Skips (77) when not root or network namespaces are unavailable. Everything
# it creates is removed on exit; namespaces left by a killed earlier run (whose
# owner process is gone) are removed at start.
set -u
mode=${1:-hostname}
here=$(cd "$(dirname "$0")" && pwd)
T0=$SECONDS
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (ip netns)" >&2; exit 77; }
command -v ip >/dev/null || { echo "SKIP: ip (iproute2) not installed" >&2; exit 77; }
mpirun=${GRADSCOPE_MPIEXEC:-mpirun}
command -v "$mpirun" >/dev/null || fail "no mpirun ($mpirun)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1   # same BLAS threading in both runs

# Namespaces of earlier runs that were killed before their trap ran.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^gs-(h[0-9]+|sw)-[0-9]+$'); do
  owner=${ns##*-}
  if ! kill -0 "$owner" 2>/dev/null; then
    echo "removing stale namespace $ns (owner $owner is gone)"
    ip netns del "$ns" 2>/dev/null
  fi
done

dir=$(mktemp -d /tmp/gradscope-twohost.XXXXXX) || fail "mktemp"
chmod 755 "$dir"
hosts_sum=$(md5sum /etc/hosts)
cleanup() {
  bash "$here/twohost/netns.sh" down "$dir" || echo "WARNING: namespaces of $dir not fully removed" >&2
  [[ $(md5sum /etc/hosts) == "$hosts_sum" ]] || echo "WARNING: /etc/hosts changed during the test" >&2
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TH_TAG=$$ bash "$here/twohost/netns.sh" up "$dir"
rc=$?
[[ $rc == 0 ]] || exit $rc
. "$dir/env"

# mpirun on host A (it needs an address in 198.18.0.0/24 for the remote
# daemon to call back), ranks on A and B.
mpirun_2hosts() {
  timeout 60 "$TH_RUN" "$TH_H0" "$mpirun" --host "$TH_H0,$TH_H1" -np 2 \
    --mca plm_rsh_agent "$TH_AGENT" \
    --mca oob_tcp_if_include "$TH_NET" --mca btl_tcp_if_include "$TH_NET" \
    --mca btl tcp,self "$@"
}

case $mode in
  hostname)
    # One retry, with the first failure printed: it failed once in 0.4 s
    # under CI's kernel matrix (ctest -j2) and never in 27 reruns, and its
    # output was lost; twohost_train runs the same launch without a retry.
    out=$(mpirun_2hosts hostname 2>&1) ||
      { echo "first mpirun across the namespaces failed, retrying once: $out" >&2
        out=$(mpirun_2hosts hostname 2>&1); } || fail "mpirun across the namespaces failed: $out"
    echo "$out"
    names=$(echo "$out" | sort -u | tr '\n' ' ')
    [[ $names == "$(printf '%s\n' "$TH_H0" "$TH_H1" | sort | tr '\n' ' ')" ]] ||
      fail "expected the two host names $TH_H0 and $TH_H1, got: $names"
    echo "PASS: 2 ranks on 2 hosts ($TH_H0, $TH_H1) over TCP in $TH_NET ($((SECONDS - T0))s)"
    ;;
  train)
    [[ -n ${GRADSCOPE_BIN:-} && -x $GRADSCOPE_BIN ]] || fail "GRADSCOPE_BIN is not set (run through ctest)"
    . "$here/slurm/lib.sh"   # write_config, same_weights, latest_ckpt
    cd "$dir" || fail "cd $dir"
    write_config run.ini "$dir/unused" train.max_steps=24
    mpirun_2hosts "$GRADSCOPE_BIN" train run.ini --set "checkpoint.dir=$dir/two" >two.log 2>&1 ||
      { cat two.log; fail "training across two hosts failed"; }
    grep -q . two.log && tail -n 3 two.log
    timeout 60 "$mpirun" -np 2 "$GRADSCOPE_BIN" train run.ini --set "checkpoint.dir=$dir/one" >one.log 2>&1 ||
      { cat one.log; fail "training on one host failed"; }
    a=$(latest_ckpt "$dir/two") b=$(latest_ckpt "$dir/one")
    [[ -f $a && -f $b ]] || fail "missing final checkpoints: '$a' '$b'"
    same_weights "$a" "$b" || fail "two-host weights differ from the one-host run"
    echo "PASS: 2 ranks on 2 hosts trained the same weights, bit for bit, as 2 ranks on one host ($((SECONDS - T0))s)"
    # [train] overlap = auto (the default) with the replicated optimizer: off
    # across hosts, on within one; the sum of two terms is the same bits
    mpirun_2hosts "$GRADSCOPE_BIN" train run.ini --set optimizer.shard=false --set "checkpoint.dir=$dir/two_r" \
      >two_r.log 2>&1 || { cat two_r.log; fail "replicated training across two hosts failed"; }
    grep -q "^gradients: all-reduced after backward, optimizer replicated (overlap auto: across nodes)" two_r.log ||
      fail "overlap auto across hosts: $(grep '^gradients:' two_r.log)"
    timeout 60 "$mpirun" -np 2 "$GRADSCOPE_BIN" train run.ini --set optimizer.shard=false \
      --set "checkpoint.dir=$dir/one_r" >one_r.log 2>&1 || { cat one_r.log; fail "replicated training on one host failed"; }
    grep -q "^gradients: all-reduced per layer during backward, optimizer replicated (overlap auto: one node)" one_r.log ||
      fail "overlap auto on one host: $(grep '^gradients:' one_r.log)"
    same_weights "$(latest_ckpt "$dir/two_r")" "$(latest_ckpt "$dir/one_r")" ||
      fail "replicated: two-host weights (blocking all-reduce) differ from one host's (overlapped)"
    echo "PASS: overlap = auto: off across two hosts, on within one, the same weights ($((SECONDS - T0))s)"
    ;;
  reproducible)
    # [train] reproducible = true: 1 rank on each of two hosts (TCP between
    # them) trains the same bits as 1 rank and as 3 ranks on one host
    [[ -n ${GRADSCOPE_BIN:-} && -x $GRADSCOPE_BIN ]] || fail "GRADSCOPE_BIN is not set (run through ctest)"
    . "$here/slurm/lib.sh"
    cd "$dir" || fail "cd $dir"
    write_config run.ini "$dir/unused" train.max_steps=20 train.reproducible=true stats.every_steps=3 train.eval_every=1
    mpirun_2hosts "$GRADSCOPE_BIN" train run.ini --set "checkpoint.dir=$dir/two" >two.log 2>&1 ||
      { cat two.log; fail "training across two hosts failed"; }
    grep -q "gradients: reproducible" two.log || fail "the two-host run did not use the reproducible exchange"
    for np in 1 3; do
      timeout 60 "$mpirun" --oversubscribe -np $np "$GRADSCOPE_BIN" train run.ini --set "checkpoint.dir=$dir/one$np" \
        >one$np.log 2>&1 || { cat one$np.log; fail "training $np ranks on one host failed"; }
      out=$(/usr/bin/python3 "$here/ckpt_same.py" "$(latest_ckpt "$dir/two")" "$(latest_ckpt "$dir/one$np")" \
        --ignore /state/n_ranks --ignore /config) || fail "two hosts vs $np rank(s) on one host: $out"
      echo "two hosts vs $np rank(s) on one host: $out"
    done
    echo "PASS: reproducible = true: 2 hosts, 1 and 3 ranks on one host trained the same bits ($((SECONDS - T0))s)"
    ;;
  *) fail "usage: $0 hostname|train|reproducible" ;;
esac
