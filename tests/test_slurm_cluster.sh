#!/usr/bin/env bash
# The throwaway cluster itself: a 2-task batch job launches MPI both ways the
# job scripts use, `mpirun` inside the allocation and `srun --mpi=pmix`, and
# each starts exactly 2 tasks.
set -u
. "$(dirname "$0")/slurm/lib.sh"
slurm_setup
workdir cluster

cat >job.sh <<'EOF2'
#!/bin/bash
echo "mpirun:"; mpirun hostname | sed 's/^/  /'
echo "srun:"; srun --mpi=pmix hostname | sed 's/^/  /'
echo "end"
EOF2
submit --ntasks=2 --time=1 --output="$WORK/job.out" job.sh
wait_done "$JOB" 30 "$WORK/job.out"
cat job.out
n_mpirun=$(sed -n '/^mpirun:/,/^srun:/p' job.out | grep -c '^  ')
n_srun=$(sed -n '/^srun:/,/^end/p' job.out | grep -c '^  ')
[[ $n_mpirun == 2 ]] || fail "mpirun started $n_mpirun tasks, expected 2 (SLURM_NTASKS)"
[[ $n_srun == 2 ]] || fail "srun --mpi=pmix started $n_srun tasks, expected 2"

# EnforcePartLimits=ALL: a job that can never run is refused at once, not
# left pending forever (which would hang a test).
if out=$(timeout 20 sbatch --parsable --ntasks=64 --wrap true 2>&1); then
  timeout 10 scancel "${out%%;*}"
  fail "sbatch accepted a 64-task job on a $(nproc)-CPU node"
fi
echo "PASS: batch job with mpirun and srun --mpi=pmix, 2 tasks each; impossible job refused ($(elapsed))"
