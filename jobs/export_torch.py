#!/usr/bin/python3
"""Export a gradscope model to PyTorch (and ONNX).

    export_torch.py CHECKPOINT|RUN_DIR -o model.pt [--onnx model.onnx]

Rebuilds the network of a checkpoint (a run directory stands for its newest)
as a torch.nn.Module in evaluation mode and saves it as TorchScript, which
loads without this script or gradscope:

    import torch
    model = torch.jit.load("model.pt")
    p = model(torch.from_numpy(X))        # X float32 [N, D], raw features as in the data file

The module repeats what `gradscope predict` does to a row: the input scale
([data] scale), the standardization by the training set's mean and standard
deviation ([data] normalize), then every layer: Linear; BatchNorm1d (with
the running statistics) or LayerNorm; the activation (sigmoid, tanh, relu,
leaky_relu, identity, gelu, selu); Dropout (identity in evaluation mode);
the residual blocks' sums; and softmax for a classifier (probabilities),
nothing for a regression (values). --onnx writes the same module with
PyTorch's ONNX exporter (opset 13).

Needs Debian's python3-torch, python3-h5py and python3-numpy.
Exit status: 0; 2 for a bad call; 4 for a path that is not a checkpoint.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gradscope_ckpt as gc  # noqa: E402


class Inputs(torch.nn.Module):
    """x * scale, then (x - mean) / std per feature when standardized: the
    data module's two steps, in float32 as it does them."""

    def __init__(self, scale, mean, std):
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.standardize = mean is not None
        d = 1 if mean is None else len(mean)
        self.register_buffer("mean", torch.from_numpy(np.asarray(mean if mean is not None else np.zeros(d),
                                                                 dtype=np.float32)))
        self.register_buffer("std", torch.from_numpy(np.asarray(std if std is not None else np.ones(d),
                                                                dtype=np.float32)))

    def forward(self, x):
        x = x * self.scale
        if self.standardize:
            x = (x - self.mean) / self.std
        return x


class Residual(torch.nn.Module):
    """A residual block: its layers, plus its input."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x) + x


def activation(name, slope):
    table = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU,
             "identity": torch.nn.Identity, "gelu": torch.nn.GELU, "selu": torch.nn.SELU}
    if name == "leaky_relu":
        return torch.nn.LeakyReLU(slope)
    if name not in table:
        raise gc.CheckpointError("activation '%s' is not one gradscope has" % name)
    return table[name]()


def layer_modules(ly, ck):
    """Linear, the normalization, the activation, dropout: one weight layer."""
    n_out, n_in = ly.weight.shape
    lin = torch.nn.Linear(n_in, n_out)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(ly.weight))
        lin.bias.copy_(torch.from_numpy(ly.bias))
    mods = [lin]
    if ly.norm == "batch":
        bn = torch.nn.BatchNorm1d(n_out, eps=ck.norm_eps)
        with torch.no_grad():
            bn.weight.copy_(torch.from_numpy(ly.gamma))
            bn.bias.copy_(torch.from_numpy(ly.beta))
            bn.running_mean.copy_(torch.from_numpy(ly.running_mean))
            bn.running_var.copy_(torch.from_numpy(ly.running_var))
        mods.append(bn)
    elif ly.norm == "layer":
        ln = torch.nn.LayerNorm(n_out, eps=ck.norm_eps)
        with torch.no_grad():
            ln.weight.copy_(torch.from_numpy(ly.gamma))
            ln.bias.copy_(torch.from_numpy(ly.beta))
        mods.append(ln)
    elif ly.norm != "none":
        raise gc.CheckpointError("norm '%s' is not one gradscope has" % ly.norm)
    mods.append(activation(ly.activation, ck.leaky_slope))
    if ly.dropout > 0:
        mods.append(torch.nn.Dropout(ly.dropout))
    return mods


def build(ck):
    """The checkpoint's model as a torch.nn.Sequential in evaluation mode."""
    mean, std = ck.standardize if ck.standardize is not None else (None, None)
    mods = [Inputs(ck.scale, mean, std)]
    block = None
    for ly in ck.layers:
        if ly.block_start:
            block = []
        (block if block is not None else mods).extend(layer_modules(ly, ck))
        if ly.block_end:
            mods.append(Residual(torch.nn.Sequential(*block)))
            block = None
    if ck.output == "softmax":
        mods.append(torch.nn.Softmax(dim=1))
    elif ck.output != "linear":
        raise gc.CheckpointError("output '%s' is not one gradscope has" % ck.output)
    model = torch.nn.Sequential(*mods)
    model.eval()
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", metavar="CHECKPOINT|RUN_DIR")
    ap.add_argument("-o", "--output", required=True, help="TorchScript file to write (model.pt)")
    ap.add_argument("--onnx", help="also write the model as ONNX here")
    a = ap.parse_args(argv)
    try:
        ck = gc.read(a.checkpoint)
        model = build(ck)
    except gc.CheckpointError as e:
        print("export_torch: %s" % e, file=sys.stderr)
        return 4
    scripted = torch.jit.script(model)
    tmp = a.output + ".tmp"
    scripted.save(tmp)
    os.replace(tmp, a.output)
    print("wrote %s: %s, %d inputs -> %d %s" % (a.output, ck.path, ck.n_inputs, ck.n_outputs,
                                                 "class probabilities" if ck.output == "softmax" else "outputs"))
    if a.onnx:
        tmp = a.onnx + ".tmp"
        x = torch.zeros(2, ck.n_inputs)
        torch.onnx.export(model, x, tmp, input_names=["x"], output_names=["y"], opset_version=13,
                          dynamic_axes={"x": {0: "rows"}, "y": {0: "rows"}})
        os.replace(tmp, a.onnx)
        print("wrote %s (ONNX opset 13)" % a.onnx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
