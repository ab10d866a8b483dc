#!/usr/bin/python3
"""Plot what a gradscope run recorded.

    plot_checkpoint.py RUN_DIR|CKPT [-o out.png]

A run directory stands for its newest checkpoint. Three panels share the
step axis: the training loss of every step with the evaluations' losses
(log scale when all are positive), the evaluations' accuracy (test and
validation), and log10 of each layer's weight-gradient norm (y: layer):
vanishing gradients are a dark band at the bottom layers, exploding ones a
bright band. Legends sit above their panels, never on the curves. A
non-finite loss is not drawn (it would squash the axis): a red mark at the
top of the panel shows its step, and the title counts them.

Runs with Debian's python3-h5py, python3-numpy and python3-matplotlib.
Exit status: 0; 2 for a bad call; 4 when the path is not a run directory
or checkpoint.
"""
import argparse
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gradscope_ckpt as gc  # noqa: E402


def legend_above(ax):
    """A legend in the margin above the panel, where no curve is."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=4, frameon=False,
                  fontsize=8, borderaxespad=0.0)


def finite_limits(ax, *arrays, log=False):
    """y-limits from the finite values only (positive ones on a log axis)."""
    v = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays]) if arrays else np.array([])
    v = v[np.isfinite(v)]
    if log:
        v = v[v > 0]
    if v.size == 0:
        return
    lo, hi = float(v.min()), float(v.max())
    if log:
        ax.set_ylim(lo / 1.2, hi * 1.2)
    else:
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
        ax.set_ylim(lo - pad, hi + pad)


def plot(ck, out):
    """Draw checkpoint ck into the PNG `out`; returns the figure (for tests)."""
    h = ck.history
    fig, (ax, acc, hx) = plt.subplots(3, 1, figsize=(9, 11), gridspec_kw={"height_ratios": [1, 0.8, 1.1]},
                                      sharex=False)
    loss = np.asarray(h["loss"], dtype=np.float64)
    steps = np.arange(loss.size)
    bad = ~np.isfinite(loss)
    curves = [loss]
    if loss.size:
        ax.plot(steps, np.where(bad, np.nan, loss), lw=0.8, color="C0", label="training loss (each step)")
    for key, label, color in (("eval_loss", "test loss" if ck.config.get("data.test") or
                               ck.config.get("data.synthetic", "none") != "none" else "evaluation loss", "C1"),
                              ("eval_validation_loss", "validation loss", "C2")):
        v = np.asarray(h[key], dtype=np.float64)
        if v.size and np.isfinite(v).any():
            ax.plot(h["eval_step"], v, "o-", ms=3, color=color, label=label)
            curves.append(v)
    all_v = np.concatenate(curves) if curves else np.array([])
    fin = all_v[np.isfinite(all_v)]
    log = fin.size > 0 and np.all(fin > 0)
    if log:
        ax.set_yscale("log")
    finite_limits(ax, *curves, log=log)
    if bad.any():
        ax.plot(steps[bad], np.full(int(bad.sum()), 0.97), "|", color="red", ms=10,
                transform=ax.get_xaxis_transform(), label="non-finite loss")
    ax.set_ylabel("loss")
    ax.set_xlabel("step")
    title = "%s (step %d)" % (ck.path, ck.step)
    if bad.any():
        title += "; %d non-finite loss%s not drawn" % (int(bad.sum()), "" if bad.sum() == 1 else "es")
    ax.set_title(title, fontsize=9, pad=22)
    legend_above(ax)

    drew = False
    for key, label, color in (("eval_accuracy", "test accuracy", "C1"),
                              ("eval_validation_accuracy", "validation accuracy", "C2")):
        v = np.asarray(h[key], dtype=np.float64)
        if v.size and np.isfinite(v).any():
            acc.plot(h["eval_step"], np.where(np.isfinite(v), v, np.nan), "o-", ms=3, color=color, label=label)
            drew = True
    if drew:
        acc.set_ylim(0, 1.02)
        legend_above(acc)
    else:
        acc.text(0.5, 0.5, "no accuracy recorded (regression, or no evaluation)", ha="center", va="center",
                 transform=acc.transAxes)
    acc.set_ylabel("accuracy")
    acc.set_xlabel("step")
    if loss.size:
        acc.set_xlim(ax.get_xlim())

    g = np.asarray(h["stats"].get("grad_norm", np.zeros((0, 0))), dtype=np.float64)
    n_layers = len(ck.layers)
    rec = np.asarray(h["stats_step"])
    if g.size:
        with np.errstate(divide="ignore", invalid="ignore"):
            lg = np.log10(np.where((g > 0) & np.isfinite(g), g, np.nan)).T  # [n_layers, n_rec]
        x0, x1 = (rec[0], rec[-1]) if rec.size > 1 else (rec[0] - 0.5, rec[0] + 0.5)
        im = hx.imshow(np.ma.masked_invalid(lg), aspect="auto", origin="lower", cmap="viridis",
                       extent=(x0, x1, -0.5, n_layers - 0.5), interpolation="nearest")
        fig.colorbar(im, ax=hx, label="log10 ||dW||", orientation="horizontal", pad=0.18, fraction=0.06)
        labels = ["%d %s" % (i, v) for i, v in enumerate(h["verdict"])]
        hx.set_yticks(range(n_layers))
        hx.set_yticklabels(labels if n_layers <= 32 else None, fontsize=8)
    else:
        hx.text(0.5, 0.5, "no statistics recorded", ha="center", va="center", transform=hx.transAxes)
    hx.set_xlabel("step of the stats record")
    hx.set_ylabel("layer (verdict at the last record)")
    hx.set_title("gradient norm by layer (blank: zero or non-finite)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", metavar="RUN_DIR|CKPT", help="a run directory (its newest checkpoint) or a checkpoint")
    ap.add_argument("-o", "--output", help="PNG to write (default: RUN_DIR/plot.png, or CKPT with .png)")
    a = ap.parse_args(argv)
    try:
        ck = gc.read(a.run)
    except gc.CheckpointError as e:
        print("plot_checkpoint: %s" % e, file=sys.stderr)
        return 4
    out = a.output or (os.path.join(a.run, "plot.png") if os.path.isdir(a.run) else os.path.splitext(a.run)[0] + ".png")
    plot(ck, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
