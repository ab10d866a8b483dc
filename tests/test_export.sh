#!/usr/bin/env bash
# jobs/export_torch.py: the PyTorch copy of a model predicts what `gradscope
# predict` does, within float tolerance, for every layer kind that
# `gradscope config --doc` lists: each activation (sigmoid, tanh, relu,
# leaky_relu, identity, gelu, selu), norm = batch and layer, residual
# blocks, dropout (off in evaluation), softmax and linear outputs, [data]
# scale and normalize = standardize. The TorchScript file loads without the
# script; --onnx writes a model that ONNX's checker accepts; a path that is
# no checkpoint is exit 4. Needs python3-torch and python3-onnx.
. "$(dirname "$0")/lib.sh"
cd "$WORK"
EXPORT="$GRADSCOPE_SRC/jobs/export_torch.py"
for m in torch onnx; do
  "$PY" -c "import $m" 2> /dev/null || { fail "Debian's python3-$m is not installed (jobs/deps.sh installs it)"; finish; }
done

# the activations the config reference lists: the export must know each
acts=$("$GS" config --doc | sed -n 's/^| model | activation | [^|]*| one of \([a-z_, ]*\);.*/\1/p' | tr -d ' ')
[ -n "$acts" ] || fail "cannot read the activations from gradscope config --doc"

"$PY" - <<'PYEOF'
import h5py, numpy as np
rng = np.random.default_rng(3)
n = 600
X = rng.normal(size=(n, 6)) * np.array([1, 10, 100, 0.1, 1, 3]) + np.array([0, 50, -200, 1, 0, 7])
y = (X[:, 0] + X[:, 1] / 10 > 5).astype(int) + (X[:, 3] > 1)
with h5py.File("cls.h5", "w") as f:
    f["X"] = X.astype(np.float32)
    f["y"] = y.astype(np.int32)
with h5py.File("reg.h5", "w") as f:
    f["X"] = X.astype(np.float32)
    f["y"] = np.stack([np.sin(X[:, 0]), X[:, 3] * 2 - X[:, 4]], 1).astype(np.float32)
PYEOF

# NAME --set...: train a few epochs and predict; the export and the
# comparison of every model follow in one Python process (torch loads once)
models=()
check() {
  local name=$1; shift
  gs_mpi 2 train base.ini --set checkpoint.dir=runs/$name "$@" > $name.log 2>&1 || { fail "$name: training: $(tail -3 $name.log)"; return; }
  local data=cls.h5
  grep -q "^output = linear" <("$GS" config base.ini "$@" 2>/dev/null) && data=reg.h5
  "$GS" predict runs/$name $data -o $name.pred.h5 > /dev/null 2>&1 || { fail "$name: predict"; return; }
  models+=("$name:$data")
}
compare() {
  "$PY" - "$EXPORT" "${models[@]}" <<'PYEOF'
import importlib.util, io, contextlib, sys, h5py, numpy as np, torch
spec = importlib.util.spec_from_file_location("export_torch", sys.argv[1])
export_torch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(export_torch)
bad = 0
for item in sys.argv[2:]:
    name, data = item.split(":")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            rc = export_torch.main(["runs/" + name, "-o", name + ".pt"])
        assert rc == 0, "export_torch.py exited %d" % rc
        model = torch.jit.load(name + ".pt")        # the saved file alone, no export code
        X = h5py.File(data, "r")["X"][()]
        with torch.no_grad():
            t = model(torch.from_numpy(X)).numpy()
        g = h5py.File(name + ".pred.h5", "r")
        p = g["output"][()]
        assert t.shape == p.shape, (t.shape, p.shape)
        assert np.isfinite(p).all() and float(np.abs(p).max()) > 0, "no outputs to compare"
        err = np.abs(t.astype(np.float64) - p) / (1e-3 + np.abs(p))
        worst = float(err.max())
        assert worst < 1e-3, "largest relative difference %.3g at row %d" % (worst, int(err.max(1).argmax()))
        if "class" in g:
            c = g["class"][()]
            close = np.sort(p, 1)[:, -1] - np.sort(p, 1)[:, -2] < 1e-4   # near-ties may break either way
            assert np.array_equal(t.argmax(1)[~close], c[~close]), "predicted classes differ"
        print("ok: %s: PyTorch equals gradscope predict (largest relative difference %.2g over %d x %d)"
              % (name, worst, p.shape[0], p.shape[1]))
    except Exception as e:
        print("FAIL: %s: %s" % (name, e), file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PYEOF
}

write_config base.ini <<INI
[model]
layers = 6, 24, 24, 24, 24, 3
[data]
train = cls.h5
scale = 0.5
normalize = standardize
[train]
epochs = 4
batch_size = 60
log_every = 1000
[optimizer]
lr = 0.05
INI
for a in ${acts//,/ }; do
  check "act_$a" --set "model.activation=$a"
done
check batchnorm_residual_dropout --set model.norm=batch --set model.residual=2 --set model.dropout=0.2 \
  --set "model.activation=gelu, selu, tanh, leaky_relu"
check layernorm_adam --set model.norm=layer --set optimizer.type=adam --set optimizer.lr=0.005 --set model.residual=1
check mixed_norms --set "model.norm=batch, none, layer, batch" --set data.normalize=none --set data.scale=1
check regression --set model.output=linear --set "model.layers=6, 16, 16, 2" --set data.train=reg.h5 \
  --set model.norm=layer --set model.activation=tanh
[ ${#models[@]} -eq $(( $(echo "${acts//,/ }" | wc -w) + 4 )) ] || fail "only ${#models[@]} models trained"
compare || fail "the PyTorch copies"

# the command line, with ONNX through PyTorch's exporter (Debian has no ONNX
# runtime to run it: ONNX's checker validates the graph, whose input and
# output are named and whose every weight layer is there)
"$PY" "$EXPORT" runs/batchnorm_residual_dropout -o cli.pt --onnx cli.onnx > cli.log 2>&1; rc=$?
[ $rc -eq 0 ] && [ -s cli.pt ] && [ ! -e cli.onnx.tmp ] && grep -q "wrote cli.onnx (ONNX opset 13)" cli.log \
  && "$PY" -c '
import onnx
m = onnx.load("cli.onnx")
onnx.checker.check_model(m, full_check=True)
assert [i.name for i in m.graph.input] == ["x"] and [o.name for o in m.graph.output] == ["y"]
ops = [n.op_type for n in m.graph.node]
assert ops.count("Gemm") + ops.count("MatMul") >= 5, ops
print("ok: ONNX checker: %d nodes (%s)" % (len(ops), ", ".join(sorted(set(ops)))))' \
  && pass "export_torch.py -o cli.pt --onnx cli.onnx: $(head -1 cli.log)" || fail "export with --onnx: exit $rc: $(tail -3 cli.log)"

# a path that is no checkpoint: one line, exit 4, no file
"$PY" "$EXPORT" cls.h5 -o bad.pt > /dev/null 2> bad.err; rc=$?
[ $rc -eq 4 ] && [ "$(wc -l < bad.err)" -eq 1 ] && [ ! -e bad.pt ] && pass "export of a file that is no checkpoint: exit 4, $(cat bad.err)" \
  || fail "export of cls.h5: exit $rc: $(cat bad.err)"
finish
