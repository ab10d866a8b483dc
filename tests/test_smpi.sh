#!/usr/bin/env bash
# The simulated build (jobs/scale/build.sh, SimGrid's SMPI) computes what the
# real one does, and its timing mode runs.
#
#   test_smpi.sh
#       Builds gradscope with smpicc into a scratch directory; trains a small
#       network for 30 steps at 4 simulated ranks on the fat-tree platform
#       and at 4 real ranks under mpirun with the same message exchange
#       (GRADSCOPE_SHARED_MEMORY=0: the sharded optimizer's reduce-scatter +
#       allgather, which the simulated build always uses): weights equal
#       within 1e-5 (the loss and norms go through each MPI library's own
#       MPI_Allreduce, whose order of summation differs); the same with the
#       replicated optimizer's buckets all-reduced during backward. With
#       train.reproducible = true, every dataset of the two final
#       checkpoints bitwise equal. At scale: 64 simulated ranks (one row
#       each) against one real rank, 10 steps: the default (shard = auto,
#       which replicates the optimizer from 64 ranks across nodes: one
#       all-reduce) and the sharded optimizer (Open MPI's MPI_Reduce_scatter
#       from 64 ranks) within 1e-5, as the rank tests hold; with
#       reproducible_groups = 64, bitwise. Then gradscope-bench at 4 simulated ranks with each
#       GEMM's measured duration standing in for it (GRADSCOPE_SIM_GEMM=
#       measured): it finishes and reports a positive step time.
#
# Why bitwise equality may be asserted there: both builds are the same
# sources, compiler and flags on this machine's OpenBLAS kernel with one BLAS
# thread per rank, and the reproducible mode's sums are exact, in gradscope's
# own code, whatever the MPI library.
# Skips (77) where SimGrid is not installed (apt-get install libsimgrid-dev).
. "$(dirname "$0")/lib.sh"
command -v smpicc >/dev/null && command -v smpirun >/dev/null || { echo "SKIP: no smpicc/smpirun"; exit 77; }

"$GRADSCOPE_SRC/jobs/scale/build.sh" "$WORK/build-smpi" > "$WORK/build.log" 2>&1 \
  || { tail -20 "$WORK/build.log"; fail "the simulated build"; finish; }
pass "built with smpicc"

write_config "$WORK/s.ini" <<INI
[model]
layers = 2, 64, 64, 64, 3
activation = tanh
init = xavier_normal
[data]
synthetic = spiral
n_train = 1000
n_test = 200
[train]
epochs = 5
max_steps = 30
batch_size = 64
log_every = 10
[optimizer]
lr = 0.05
[checkpoint]
dir = $WORK/run
every_steps = 30
[stats]
every_steps = 5
INI

seq 0 63 | sed 's/^/node-/' > "$WORK/hosts"
smpi() { # smpirun with NP (4) simulated ranks on the fat tree's first nodes, never hanging
  OPENBLAS_NUM_THREADS=1 timeout -k 5 300 smpirun -np "${NP:-4}" -platform "$GRADSCOPE_SRC/jobs/scale/platforms/fattree-100g.xml" \
    -hostfile "$WORK/hosts" --cfg=smpi/privatization:1 --cfg=smpi/host-speed:1Gf --log=root.thres:warning "$@"
}

# train NAME sim|real [ARGS]: NP (4) ranks into $WORK/run, kept as $WORK/NAME
train() {
  local name=$1 how=$2
  shift 2
  rm -rf "$WORK/run"
  if [ "$how" = sim ]; then
    (cd "$WORK" && smpi "$WORK/build-smpi/gradscope" train "$WORK/s.ini" "$@") > "$WORK/$name.log" 2>&1
  else
    gs_mpi "${NP:-4}" train "$WORK/s.ini" "$@" > "$WORK/$name.log" 2>&1
  fi || { tail -20 "$WORK/$name.log"; return 1; }
  mv "$WORK/run" "$WORK/$name"
}
final() { echo "$WORK/$1/$(cat "$WORK/$1/latest")"; }

train sim sim || { fail "training at 4 simulated ranks"; finish; }
grep -q "gradients: optimizer sharded over the ranks, ring of messages" "$WORK/sim.log" \
  && pass "4 simulated ranks exchange through the ring of messages" \
  || fail "the simulated run's banner: $(grep gradients: "$WORK/sim.log")"
GRADSCOPE_SHARED_MEMORY=0 train real real || { fail "training at 4 real ranks"; finish; }
out=$(weights_equal "$(final sim)" "$(final real)" 1e-5) && pass "default mode, simulated vs real: $out" \
  || fail "default mode, simulated vs real: $out"
# the replicated optimizer with its all-reduce overlapped in buckets of up
# to 262,656 floats (sent
# from a copy in the simulated build: SimGrid 3.32 sums wrongly in place)
train sim_o sim --set optimizer.shard=false --set train.overlap=true --set model.layers=2,512,512,3 || fail "overlapped buckets, 4 simulated ranks"
train real_o real --set optimizer.shard=false --set train.overlap=true --set model.layers=2,512,512,3 || fail "overlapped buckets, 4 real ranks"
out=$(weights_equal "$(final sim_o)" "$(final real_o)" 1e-5) && pass "overlapped buckets, simulated vs real: $out" \
  || fail "overlapped buckets, simulated vs real: $out"
# the reproducible mode's sums are exact and its own: the same bits whatever
# MPI library orders the messages (here with shared memory on the real side)
train sim_r sim --set train.reproducible=true || fail "reproducible, 4 simulated ranks"
train real_r real --set train.reproducible=true || fail "reproducible, 4 real ranks"
# (bits are the same only between builds of the same type and flags: the
# sanitizer build of .ci/run, Debug, is held to the tolerance)
build_type() { "$PY" -c 'import h5py, sys; print(h5py.File(sys.argv[1], "r").attrs["build_type"].decode().replace("+smpi", ""))' "$1"; }
sim_type=$(build_type "$(final sim_r)") real_type=$(build_type "$(final real_r)")
if [ -n "$sim_type" ] && [ "$sim_type" = "$real_type" ]; then
  out=$("$PY" "$GRADSCOPE_SRC/tests/ckpt_same.py" "$(final sim_r)" "$(final real_r)") \
    && pass "reproducible mode, 4 simulated ranks and 4 real ranks: $out" || fail "reproducible, simulated vs real: $out"
else
  out=$(weights_equal "$(final sim_r)" "$(final real_r)" 1e-5) \
    && pass "reproducible mode, simulated ($sim_type) vs real ($real_type) build: $out" \
    || fail "reproducible, simulated vs real: $out"
fi

# correctness at scale: 64 simulated ranks, one row each, against one real
# rank (10 steps), with the exchange that shard = auto picks at 64 ranks
# across nodes (each simulated rank is a node), and the sharded one
at64() { NP=64 train "$@" --set train.max_steps=10; }
NP=1 train one real --set train.max_steps=10 || fail "training at one real rank"
at64 sim64 sim || fail "training at 64 simulated ranks"
grep -q "gradients: all-reduced after backward, optimizer replicated (shard auto: 64 ranks across nodes" "$WORK/sim64.log" \
  && pass "shard = auto at 64 ranks across nodes: one all-reduce, optimizer replicated" \
  || fail "the 64-rank banner: $(grep gradients: "$WORK/sim64.log")"
out=$(weights_equal "$(final sim64)" "$(final one)" 1e-5) && pass "64 simulated ranks (default) vs one real rank: $out" \
  || fail "64 simulated ranks (default) vs one real rank: $out"
at64 sim64s sim --set optimizer.shard=true || fail "sharded optimizer, 64 simulated ranks"
grep -q "gradients: optimizer sharded over the ranks, MPI_Reduce_scatter" "$WORK/sim64s.log" \
  && pass "shard = true at 64 ranks across nodes: MPI_Reduce_scatter" \
  || fail "the 64-rank sharded banner: $(grep gradients: "$WORK/sim64s.log")"
out=$(weights_equal "$(final sim64s)" "$(final one)" 1e-5) && pass "64 simulated ranks (sharded, MPI_Reduce_scatter) vs one real rank: $out" \
  || fail "64 simulated ranks (sharded) vs one real rank: $out"
repro="--set train.reproducible=true --set train.reproducible_groups=64"
NP=1 train one_r real $repro --set train.max_steps=10 || fail "reproducible, one real rank"
at64 sim64_r sim $repro || fail "reproducible, 64 simulated ranks"
sim_type=$(build_type "$(final sim64_r)") real_type=$(build_type "$(final one_r)")
if [ -n "$sim_type" ] && [ "$sim_type" = "$real_type" ]; then
  out=$("$PY" "$GRADSCOPE_SRC/tests/ckpt_same.py" "$(final sim64_r)" "$(final one_r)" --ignore /state/n_ranks) \
    && pass "reproducible mode, 64 simulated ranks and one real rank: $out" || fail "reproducible, 64 simulated vs one: $out"
else
  out=$(weights_equal "$(final sim64_r)" "$(final one_r)" 1e-5) \
    && pass "reproducible mode, 64 simulated ($sim_type) vs one real ($real_type): $out" \
    || fail "reproducible, 64 simulated vs one: $out"
fi

(cd "$WORK" && GRADSCOPE_SIM_GEMM=measured smpi --cfg=smpi/test:0 "$WORK/build-smpi/jobs/bench/gradscope-bench" \
  --models S --steps 3 --warmup 1 --no-bound --overlap off) > "$WORK/bench.log" 2>&1 \
  || { tail -20 "$WORK/bench.log"; fail "gradscope-bench with measured GEMMs"; finish; }
awk '$1 == "S" && $2 == "4x1" && $4 > 0 { n++ } END { exit !(n == 2) }' "$WORK/bench.log" \
  && pass "gradscope-bench at 4 simulated ranks, GEMMs by their measured durations: $(awk '$1 == "S" { printf "%s %s ms; ", $3, $4 }' "$WORK/bench.log")" \
  || { cat "$WORK/bench.log"; fail "gradscope-bench did not report both modes' steps"; }
finish
