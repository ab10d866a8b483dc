#!/usr/bin/env bash
# Install the Debian 12 packages gradscope needs to build, test and run its
# jobs (only those that are missing). Uses sudo when not run as root.
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin            # MPI
  libopenblas-dev                       # BLAS (cblas.h)
  libhdf5-dev hdf5-tools                # checkpoints and input data (h5dump for humans)
  libinih-dev zlib1g-dev                # config files, gzip'd IDX files
  libcsv-dev libzip-dev                 # gradscope convert csv, convert npz
  libjansson-dev                        # every JSON gradscope reads or writes (--json outputs, the metrics stream)
  libncurses-dev tmux                   # gradscope watch's terminal view; tmux drives it in the tests
  dataset-fashion-mnist                 # the main job's data
  python3 python3-h5py python3-numpy python3-matplotlib  # plotting and sweep summaries
  python3-torch                         # PyTorch: the oracle of the remedies' layers and optimizers (tests)
  python3-onnx                          # checks the ONNX file export_torch.py --onnx writes (tests)
  chromium chromium-driver python3-selenium  # the HTML report's test in a real, headless browser
  slurm-wlm munge                       # the Slurm job tests run a real controller
  iproute2 util-linux procps            # two-host test, virtual Slurm cluster (ip netns, nsenter, unshare), pgrep
  valgrind clang libclang-rt-14-dev     # leak checks, fuzzing
  llvm                                  # llvm-symbolizer: the fuzz triage reads file names in stacks
  libsimgrid-dev                        # smpicc/smpirun: the simulated build and scaling study (jobs/scale)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
