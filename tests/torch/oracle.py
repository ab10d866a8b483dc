#!/usr/bin/python3
"""PyTorch as the oracle of gradscope's layers and optimizers.

    oracle.py STEP0.h5 STEPK.h5 TRAIN.h5 TEST.h5 DROPOUT_MASK [--tol T]

STEP0.h5 is gradscope's init audit (its initial weights and its config),
STEPK.h5 its checkpoint after K training steps on TRAIN.h5 (one rank,
shuffle = false: global batch k is rows [kB, kB + B) of an epoch), and
DROPOUT_MASK the helper that prints the dropout masks gradscope drew. This
builds the same network in PyTorch from STEP0.h5 (Linear, BatchNorm1d or
LayerNorm, the activation, dropout with gradscope's masks, the residual sums),
trains it K steps on the same batches with PyTorch's own optimizer (SGD,
Adam or AdamW, weight decay on the weights only, the warm-up's learning
rate), and compares, normwise (||a - b|| / ||b||):
  - every parameter tensor, against the norm of its whole layer (the bias
    of a normalized layer gets no gradient but rounding, so its own norm is
    no yardstick);
  - batch norm's running mean and variance;
  - the loss of every step;
  - the final evaluation loss on TEST.h5 (running statistics, no dropout).
Normwise, not elementwise: Adam's update is m / sqrt(v), near +-lr for
every parameter whatever the gradient's size, so where a gradient is a
rounding error the two sides may step in opposite directions; the norm of
the difference still measures whether the optimizer is the same.
Exit status 0 when every difference is within the tolerance (default 1e-4).
"""
import configparser
import subprocess
import sys

import h5py
import numpy as np
import torch


def config_of(ckpt):
    text = ckpt["config"][0].decode()
    cp = configparser.ConfigParser(inline_comment_prefixes=(";",))
    cp.read_string(text)
    return cp


def per_hidden(value, n, conv):
    items = [conv(v.strip()) for v in value.split(",")]
    return items * n if len(items) == 1 else items


class Net(torch.nn.Module):
    def __init__(self, cp, ckpt, mask_tool):
        super().__init__()
        m = cp["model"]
        self.sizes = [int(v) for v in m["layers"].split(",")]
        L = len(self.sizes) - 1
        H = L - 1
        self.acts = per_hidden(m["activation"], H, str) + ["identity"]
        self.norms = per_hidden(m["norm"], H, str) + ["none"]
        self.dropout = per_hidden(m["dropout"], H, float) + [0.0]
        K = int(m["residual"])
        self.block_start, self.block_end = set(), set()
        first = 1
        while K > 0 and first + K - 1 <= L - 2:
            self.block_start.add(first)
            self.block_end.add(first + K - 1)
            first += K
        self.seed = int(cp["train"]["seed"])
        self.mask_tool = mask_tool
        eps, mom = float(m["norm_eps"]), float(m["bn_momentum"])
        self.linears = torch.nn.ModuleList()
        self.normlayers = torch.nn.ModuleList()
        for l in range(L):
            n_in, n_out = self.sizes[l], self.sizes[l + 1]
            lin = torch.nn.Linear(n_in, n_out)
            name = "model/layer_%03d/" % l
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(ckpt[name + "weight"][()]))
                lin.bias.copy_(torch.from_numpy(ckpt[name + "bias"][()]))
            self.linears.append(lin)
            norm = self.norms[l]
            if norm == "batch":  # (gradscope's bias before batch norm stays where it starts: no gradient)
                lin.bias.requires_grad_(False)
                nl = torch.nn.BatchNorm1d(n_out, eps=eps, momentum=mom)
                with torch.no_grad():
                    nl.running_mean.copy_(torch.from_numpy(ckpt[name + "running_mean"][()]))
                    nl.running_var.copy_(torch.from_numpy(ckpt[name + "running_var"][()]))
            elif norm == "layer":
                nl = torch.nn.LayerNorm(n_out, eps=eps)
            else:
                nl = torch.nn.Identity()
            if norm != "none":
                with torch.no_grad():
                    nl.weight.copy_(torch.from_numpy(ckpt[name + "gamma"][()]))
                    nl.bias.copy_(torch.from_numpy(ckpt[name + "beta"][()]))
            self.normlayers.append(nl)
        act = {"sigmoid": torch.nn.Sigmoid(), "tanh": torch.nn.Tanh(), "relu": torch.nn.ReLU(),
               "leaky_relu": torch.nn.LeakyReLU(float(m["leaky_slope"])), "identity": torch.nn.Identity(),
               "gelu": torch.nn.GELU(), "selu": torch.nn.SELU()}
        self.act_fns = [act[a] for a in self.acts]

    def mask(self, step, l, row0, n_rows):
        n_out, p = self.sizes[l + 1], self.dropout[l]
        out = subprocess.run([self.mask_tool, str(self.seed), str(step), str(l), str(row0), str(n_rows), str(n_out),
                              repr(p)], check=True, capture_output=True, text=True).stdout.split()
        keep = np.array([[c == "1" for c in line] for line in out], dtype=np.float32)
        return torch.from_numpy(keep) / (1.0 - p)

    def forward(self, x, step=None, row0=None):
        skip = None
        for l, lin in enumerate(self.linears):
            if l in self.block_start:
                skip = x
            a = self.act_fns[l](self.normlayers[l](lin(x)))
            if self.training and self.dropout[l] > 0:
                a = a * self.mask(step, l, row0, x.shape[0])
            if l in self.block_end:
                a = a + skip
            x = a
        return x


def lr_at(cp, step, total):
    o = cp["optimizer"]
    lr, W = float(o["lr"]), int(o["warmup_steps"])
    assert o["schedule"] == "constant", "the oracle knows the constant schedule (with warm-up) only"
    return lr * (step + 1) / W if W > 0 and step < W else lr


def optimizer_of(cp, net):
    o = cp["optimizer"]
    wd = float(o["weight_decay"])
    weights = [lin.weight for lin in net.linears]
    rest = [p for n, p in net.named_parameters()
            if p.requires_grad and not (n.startswith("linears.") and n.endswith(".weight"))]
    groups = [{"params": weights, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]
    kind = o["type"]
    if kind == "sgd":
        nesterov = o["nesterov"] == "true"
        return torch.optim.SGD(groups, lr=float(o["lr"]), momentum=float(o["momentum"]), nesterov=nesterov)
    betas = (float(o["beta1"]), float(o["beta2"]))
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    return cls(groups, lr=float(o["lr"]), betas=betas, eps=float(o["eps"]))


def rel(a, b, scale=None):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / ((scale if scale is not None else np.linalg.norm(b)) + 1e-30))


def main():
    args = sys.argv[1:]
    tol = 1e-4
    if "--tol" in args:
        i = args.index("--tol")
        tol = float(args[i + 1])
        del args[i:i + 2]
    step0, stepk, train, test, mask_tool = args
    torch.set_num_threads(1)
    a0, ak = h5py.File(step0, "r"), h5py.File(stepk, "r")
    cp = config_of(a0)
    assert cp["train"]["shuffle"] == "false", "the oracle needs shuffle = false (batch k = rows kB ..)"
    net = Net(cp, a0, mask_tool)
    opt = optimizer_of(cp, net)
    K = int(ak.attrs["step"])
    B = int(cp["train"]["batch_size"])
    scale = float(cp["data"]["scale"])
    with h5py.File(train, "r") as f:
        X = torch.from_numpy(f["X"][()].astype(np.float32) * np.float32(scale))
        y = torch.from_numpy(f["y"][()].astype(np.int64))
    N = X.shape[0]
    per_epoch = (N + B - 1) // B
    loss_fn = torch.nn.CrossEntropyLoss()
    losses = []
    net.train()
    for s in range(K):
        k = s % per_epoch
        lo, hi = k * B, min(N, k * B + B)
        for g in opt.param_groups:
            g["lr"] = lr_at(cp, s, K)
        loss = loss_fn(net(X[lo:hi], step=s, row0=lo), y[lo:hi])
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()

    worst, bad = {}, []

    def check(what, d):
        worst[what] = max(worst.get(what, 0.0), d)
        if not d <= tol:
            bad.append("%s: %.3g" % (what, d))

    check("loss history", rel(ak["history/loss"][()], losses))
    for l, lin in enumerate(net.linears):
        name = "model/layer_%03d/" % l
        tensors = [("weight", lin.weight), ("bias", lin.bias)]
        nl = net.normlayers[l]
        if net.norms[l] != "none":
            tensors += [("gamma", nl.weight), ("beta", nl.bias)]
        layer_norm = np.sqrt(sum(float(t.detach().double().pow(2).sum()) for _, t in tensors))
        for tname, t in tensors:
            check("parameters", rel(ak[name + tname][()], t.detach().numpy(), layer_norm))
        if net.norms[l] == "batch":
            check("running statistics", rel(ak[name + "running_mean"][()], nl.running_mean.numpy()))
            check("running statistics", rel(ak[name + "running_var"][()], nl.running_var.numpy()))
    net.eval()
    with h5py.File(test, "r") as f:
        Xt = torch.from_numpy(f["X"][()].astype(np.float32) * np.float32(scale))
        yt = torch.from_numpy(f["y"][()].astype(np.int64))
    with torch.no_grad():
        eval_loss = loss_fn(net(Xt), yt).item()
    check("evaluation loss", rel([ak["history/eval/loss"][-1]], [eval_loss]))
    print("oracle: %s, %d steps; largest normwise differences: %s (tolerance %g)" % (
        ", ".join("%s=%s" % kv for kv in [("optimizer", cp["optimizer"]["type"]), ("norm", cp["model"]["norm"]),
                                            ("residual", cp["model"]["residual"]),
                                            ("dropout", cp["model"]["dropout"]),
                                            ("activation", cp["model"]["activation"])]),
        K, ", ".join("%s %.2g" % kv for kv in worst.items()), tol))
    if bad:
        print("FAIL: " + "; ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
