#!/usr/bin/env bash
# test_torch_oracle.sh FEATURE NP MASK_TOOL: gradscope against PyTorch
# (Debian's python3-torch, run by /usr/bin/python3) on one remedy of the
# vanishing gradient: the same network, built in PyTorch from gradscope's
# initial weights, trained the same steps on the same batches, must end with
# the same parameters, running statistics, loss history and evaluation loss,
# normwise within 1e-4 (tests/torch/oracle.py says why normwise).
#   FEATURE: adam | adamw_warmup | batchnorm | layernorm | residual | dropout | gelu | selu | all
#   NP: gradscope's ranks (batch norm's statistics and dropout's masks are
#       those of the global batch at any rank count, so PyTorch on one
#       process is the reference for any NP)
. "$(dirname "$0")/lib.sh"
FEATURE=$1 NP=$2 MASK=$3
ORACLE=${GRADSCOPE_TESTS:-$(dirname "$0")}/torch/oracle.py
"$PY" -c "import torch" 2> /dev/null || { fail "Debian's python3-torch is not installed (jobs/deps.sh installs it)"; finish; }

# the data: a random linear teacher's classes of Gaussian inputs
"$PY" - "$WORK" <<'PYEOF'
import sys, h5py, numpy as np
rng = np.random.default_rng(7)
R = rng.standard_normal((12, 4))
for name, n in (("train", 240), ("test", 80)):
    X = rng.standard_normal((n, 12)).astype(np.float32)
    with h5py.File(f"{sys.argv[1]}/{name}.h5", "w") as f:
        f["X"] = X
        f["y"] = np.argmax(X @ R, axis=1).astype(np.int32)
PYEOF
layers="12, 32, 32, 32, 32, 4"
case $FEATURE in
  adam) extra="[optimizer]
type = adam
lr = 0.005
weight_decay = 0.01" ;;
  adamw_warmup) extra="[optimizer]
type = adamw
lr = 0.005
weight_decay = 0.05
warmup_steps = 5" ;;
  batchnorm) extra="[model]
norm = batch" ;;
  layernorm) extra="[model]
norm = layer" ;;
  residual) layers="12, 32, 32, 32, 32, 32, 4"; extra="[model]
residual = 2" ;;
  dropout) extra="[model]
dropout = 0.2" ;;
  gelu) extra="[model]
activation = gelu" ;;
  selu) extra="[model]
activation = selu
init = lecun_normal" ;;
  all) layers="12, 32, 32, 32, 32, 32, 4"; extra="[model]
activation = gelu, selu, tanh, gelu, relu
norm = batch, layer, batch, none, batch
residual = 2
dropout = 0.1, 0, 0.2, 0, 0.1
[optimizer]
type = adam
lr = 0.003
weight_decay = 0.01
warmup_steps = 3" ;;
  *) fail "unknown feature $FEATURE"; finish ;;
esac
write_config "$WORK/base.ini" <<INI
[model]
layers = $layers
activation = tanh
init = xavier_normal
[data]
synthetic = none
train = $WORK/train.h5
test = $WORK/test.h5
[train]
epochs = 10
batch_size = 40
shuffle = false
seed = 5
eval_every = 0
log_every = 100
[optimizer]
lr = 0.05
momentum = 0.9
[stats]
every_steps = 4
INI
# the feature's keys over the base's (Adam has no momentum: the base's goes)
"$PY" - "$WORK/base.ini" "$WORK/t.ini" <<PYEOF
import sys, configparser
cp = configparser.ConfigParser()
cp.read(sys.argv[1])
cp.read_string("""$extra""")
if cp["optimizer"].get("type", "sgd") != "sgd":
    del cp["optimizer"]["momentum"]
with open(sys.argv[2], "w") as f:
    cp.write(f)
PYEOF
gs_mpi "$NP" train "$WORK/t.ini" --set train.max_steps=0 --set checkpoint.dir="$WORK/step0" > "$WORK/audit.log" 2>&1 \
  || { cat "$WORK/audit.log"; fail "the init audit failed"; finish; }
gs_mpi "$NP" train "$WORK/t.ini" --set train.max_steps=12 --set checkpoint.dir="$WORK/stepk" > "$WORK/train.log" 2>&1 \
  || { cat "$WORK/train.log"; fail "training failed"; finish; }
"$PY" "$ORACLE" "$(latest_ckpt "$WORK/step0")" "$(latest_ckpt "$WORK/stepk")" "$WORK/train.h5" "$WORK/test.h5" "$MASK" \
  && pass "$FEATURE at $NP rank(s) agrees with PyTorch" || fail "$FEATURE at $NP rank(s) differs from PyTorch"
finish
