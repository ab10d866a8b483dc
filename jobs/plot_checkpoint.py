#!/usr/bin/python3
"""Plot what a gradscope checkpoint recorded.

    plot_checkpoint.py CKPT [-o out.png]

Top: the training loss of every step (log scale when positive) and, on a
second axis, the eval accuracy. Bottom: log10 of each layer's weight-gradient
norm (y: layer, x: the step of each stats record): vanishing gradients are a
dark band at the bottom layers, exploding ones a bright band.

Reads the layout documented in docs/checkpoint-format.md with h5py;
runs with Debian's python3-h5py, python3-numpy and python3-matplotlib.
"""
import argparse
import os
import sys

import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def text(v):
    """h5py gives fixed-length strings as bytes."""
    if isinstance(v, np.ndarray):
        v = v[()]
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, np.bytes_)) else str(v)


def read(path):
    with h5py.File(path, "r") as f:
        if text(f.attrs.get("format", b"")) != "gradscope-checkpoint":
            raise ValueError("not a gradscope checkpoint (no format attribute)")
        if int(f.attrs["format_version"]) > 4:
            raise ValueError("format_version %d is newer than this script" % int(f.attrs["format_version"]))
        d = {
            "step": int(f.attrs["step"]),
            "loss": f["history/loss"][:],
            "eval_step": f["history/eval/step"][:],
            "eval_acc": f["history/eval/accuracy"][:],
            "rec_step": f["history/stats/step"][:],
            "grad_norm": f["history/stats/grad_norm"][:],  # [n_rec, n_layers]
            "verdict": [text(v) for v in f["history/stats/verdict"][:]],
            "layers": [text(v) for v in f["model/layer_names"][:]],
        }
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpt")
    ap.add_argument("-o", "--output", help="PNG to write (default: CKPT with .png)")
    a = ap.parse_args()
    out = a.output or os.path.splitext(a.ckpt)[0] + ".png"
    try:
        d = read(a.ckpt)
    except (OSError, KeyError, ValueError) as e:
        print("plot_checkpoint: %s: %s" % (a.ckpt, e), file=sys.stderr)
        return 4

    fig, (ax, hx) = plt.subplots(2, 1, figsize=(9, 8), gridspec_kw={"height_ratios": [1, 1.2]})
    loss = d["loss"]
    if loss.size:
        ax.plot(np.arange(loss.size), loss, lw=0.8, color="C0", label="training loss")
        if np.all(loss[np.isfinite(loss)] > 0) and np.isfinite(loss).any():
            ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("%s (step %d)" % (os.path.basename(a.ckpt), d["step"]))
    if d["eval_step"].size:
        ax2 = ax.twinx()
        ax2.plot(d["eval_step"], d["eval_acc"], "o-", color="C1", label="eval accuracy")
        ax2.set_ylabel("eval accuracy")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="center right")
    if loss.size:
        ax.legend(loc="upper right")

    g = d["grad_norm"]
    n_layers = len(d["layers"])
    if g.size:
        with np.errstate(divide="ignore", invalid="ignore"):
            lg = np.log10(np.where(g > 0, g, np.nan)).T  # [n_layers, n_rec]
        steps = d["rec_step"]
        x0, x1 = (steps[0], steps[-1]) if steps.size > 1 else (steps[0] - 0.5, steps[0] + 0.5)
        im = hx.imshow(np.ma.masked_invalid(lg), aspect="auto", origin="lower", cmap="viridis",
                       extent=(x0, x1, -0.5, n_layers - 0.5), interpolation="nearest")
        fig.colorbar(im, ax=hx, label="log10 ||dW||")
        labels = ["%d %s" % (i, v) for i, v in enumerate(d["verdict"])]
        hx.set_yticks(range(n_layers))
        hx.set_yticklabels(labels if n_layers <= 32 else None)
    else:
        hx.text(0.5, 0.5, "no statistics recorded", ha="center", va="center", transform=hx.transAxes)
    hx.set_xlabel("step of the stats record")
    hx.set_ylabel("layer (verdict at the last record)")
    hx.set_title("gradient norm by layer (missing: zero or non-finite)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
