#!/usr/bin/python3
"""Summarize an init x activation x depth sweep (jobs/sweep_local.sh,
jobs/slurm/sweep.sbatch): one table row per run directory, read from the
run's final checkpoint with h5py, and optionally a PNG.

    jobs/sweep_summary.py runs/sweep [--png runs/sweep/summary.png] [--csv out.csv]

Columns:
  init, activation, depth  from the config stored in the checkpoint
  step                     steps done (of the run's total when known)
  loss                     final training loss (last entry of /history/loss)
  test_acc                 accuracy of the last evaluation (/history/eval/accuracy)
  g1/gL                    first-layer over last-layer gradient norm at the last
                           statistics record (/history/stats/grad_norm): far below
                           1 = vanishing towards the input, far above = exploding;
                           0/0 when both are zero (e.g. init = zeros)
  verdicts                 one letter per layer, input side first, from
                           /history/stats/verdict (legend below the table)
  status                   done | diverged (non-finite, read from its incident
                           file) | stopped | failed(N) | running | missing
Run with Debian's python3 (h5py, numpy, matplotlib): /usr/bin/python3.
Exit status: 0 when every run directory had a readable checkpoint, 1 if
some had none, 2 on bad usage.
"""
import argparse
import glob
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gradscope_ckpt as gc  # noqa: E402  (the checkpoint layout, decoded in one place)

LETTER = {"healthy": "h", "vanishing": "v", "exploding": "x", "saturated": "s",
          "dead": "d", "symmetric": "y", "nonfinite": "n"}
INIT_ORDER = ["zeros", "constant", "uniform", "normal", "xavier_uniform", "xavier_normal",
              "he_uniform", "he_normal", "lecun_normal", "orthogonal"]
ACT_ORDER = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]


text = gc.text
latest_checkpoint = gc.latest
parse_config = gc.parse_config


def read_status(run_dir):
    try:
        with open(os.path.join(run_dir, "status")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def depth_name(n_hidden, dir_depth):
    if dir_depth and not dir_depth.isdigit():
        return dir_depth  # shallow / deep, as the sweep named it
    return str(n_hidden)


def read_run(run_dir):
    row = {"dir": run_dir, "init": "?", "activation": "?", "depth": "?", "n_hidden": None,
           "step": None, "total": None, "loss": math.nan, "test_acc": math.nan, "ratio": math.nan,
           "verdicts": "", "status": "missing"}
    base = os.path.basename(os.path.normpath(run_dir))
    parts = base.split("-")
    if len(parts) >= 3:
        row["init"], row["activation"], row["depth"] = "-".join(parts[:-2]), parts[-2], parts[-1]
    code = read_status(run_dir)
    path = latest_checkpoint(run_dir)
    incident = gc.incidents(run_dir)
    if code == 5 and incident:
        path = incident[-1]  # where it blew up says more than the last good step
    if path is None:
        row["status"] = "running" if code is None and os.path.exists(os.path.join(run_dir, "train.log")) \
            else ("failed(%d)" % code if code else "missing")
        return row
    try:
        with h5py.File(path, "r") as f:
            row["step"] = int(f.attrs.get("step", -1))
            if "config" in f:
                cfg = parse_config(text(f["config"][()]))
                row["init"] = cfg.get("model.init", row["init"]).split(",")[0].strip()
                row["activation"] = cfg.get("model.activation", row["activation"]).split(",")[0].strip()
                sizes = [s for s in cfg.get("model.layers", "").replace(" ", "").split(",") if s]
                if sizes:
                    row["n_hidden"] = len(sizes) - 2
                    row["depth"] = depth_name(row["n_hidden"], parts[-1] if len(parts) >= 3 else "")
                ms = cfg.get("train.max_steps")
                if ms and ms.lstrip("-").isdigit() and int(ms) > 0:
                    row["total"] = int(ms)
            if "history/loss" in f and f["history/loss"].shape[0] > 0:
                row["loss"] = float(f["history/loss"][-1])
            if "history/eval/accuracy" in f and f["history/eval/accuracy"].shape[0] > 0:
                row["test_acc"] = float(f["history/eval/accuracy"][-1])
            if "history/stats/grad_norm" in f:
                g = f["history/stats/grad_norm"][()]
                if g.ndim == 2 and g.shape[0] > 0 and g.shape[1] > 0:
                    last = g[-1]
                    row["ratio"] = float(last[0] / last[-1]) if last[-1] != 0 else \
                        (math.inf if last[0] != 0 else math.nan)
                    row["zero_grads"] = bool(last[0] == 0 and last[-1] == 0)
            if "history/stats/verdict" in f:
                v = [text(x) for x in f["history/stats/verdict"][()]]
                row["verdicts"] = "".join(LETTER.get(x, "?") for x in v)
    except (OSError, KeyError, ValueError) as e:
        row["status"] = "unreadable"
        print(f"sweep_summary: {path}: {e}", file=sys.stderr)
        return row
    if code == 5:
        row["status"] = "diverged"
    elif code == 75:
        row["status"] = "stopped"
    elif code not in (None, 0):
        row["status"] = "failed(%d)" % code
    elif code is None:
        row["status"] = "running"
    else:
        row["status"] = "done"
    return row


def sort_key(r):
    i = INIT_ORDER.index(r["init"]) if r["init"] in INIT_ORDER else len(INIT_ORDER)
    a = ACT_ORDER.index(r["activation"]) if r["activation"] in ACT_ORDER else len(ACT_ORDER)
    return (i, r["init"], a, r["activation"], r["n_hidden"] if r["n_hidden"] is not None else 0, r["depth"])


def fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def print_table(rows, out=sys.stdout):
    head = ["init", "activation", "depth", "step", "loss", "test_acc", "g1/gL", "verdicts", "status"]
    body = []
    for r in rows:
        body.append([r["init"], r["activation"],
                     r["depth"] + (f" ({r['n_hidden']})" if r["n_hidden"] is not None and not r["depth"].isdigit() else ""),
                     "-" if r["step"] is None else str(r["step"]),
                     fmt(r["loss"], ".4f"), fmt(r["test_acc"], ".4f"),
                     "0/0" if r.get("zero_grads") else fmt(r["ratio"], ".2e"),
                     r["verdicts"] or "-", r["status"]])
    w = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w[i]) if i in (0, 1, 2, 7, 8) else c.rjust(w[i])
                                   for i, c in enumerate(cells)).rstrip()
    print(line(head), file=out)
    print("  ".join("-" * x for x in w), file=out)
    for b in body:
        print(line(b), file=out)
    print("verdicts, one letter per layer from input to output: h healthy, v vanishing, x exploding, "
          "s saturated, d dead, y symmetric, n non-finite", file=out)


def draw_png(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inits = sorted({r["init"] for r in rows}, key=lambda s: (INIT_ORDER.index(s) if s in INIT_ORDER else 99, s))
    cols = sorted({(r["activation"], r["n_hidden"] if r["n_hidden"] is not None else -1, r["depth"]) for r in rows},
                  key=lambda c: (c[1], ACT_ORDER.index(c[0]) if c[0] in ACT_ORDER else 99, c[0]))
    ratio = np.full((len(inits), len(cols)), np.nan)
    acc = np.full((len(inits), len(cols)), np.nan)
    note = np.full((len(inits), len(cols)), "-", dtype=object)  # label of an empty ratio cell
    for r in rows:
        i = inits.index(r["init"])
        j = cols.index((r["activation"], r["n_hidden"] if r["n_hidden"] is not None else -1, r["depth"]))
        if r["ratio"] > 0 and math.isfinite(r["ratio"]):
            ratio[i, j] = math.log10(r["ratio"])
        acc[i, j] = r["test_acc"]
        note[i, j] = "diverged" if r["status"] == "diverged" else "0/0" if r.get("zero_grads") else \
            "0" if r["ratio"] == 0 else "-"
    labels = [f"{a}\n{d}" for a, _, d in cols]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(cols) + 3), 1.0 * len(inits) + 2.5))
    panels = [(ratio, "log10(first / last layer gradient norm)", "RdBu_r", None),
              (acc, "final test accuracy", "viridis", (0, 1))]
    for ax, (m, title, cmap, lim) in zip(axes, panels):
        if lim is None:
            finite = m[np.isfinite(m)]
            v = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
            lim = (-v, v)
        im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=lim[0], vmax=lim[1], aspect="auto")
        ax.set_xticks(range(len(cols)), labels, fontsize=8)
        ax.set_yticks(range(len(inits)), inits)
        ax.set_title(title, fontsize=10)
        for i in range(len(inits)):
            for j in range(len(cols)):
                label = f"{m[i, j]:.2f}" if not np.isnan(m[i, j]) else (note[i, j] if m is ratio else "-")
                ax.text(j, i, label, ha="center", va="center", fontsize=8, color="black")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle("gradscope sweep: init x activation x depth")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs_dir", help="directory holding one run directory per task (e.g. runs/sweep)")
    ap.add_argument("--png", help="write a heatmap PNG here")
    ap.add_argument("--csv", help="write the table as CSV here")
    args = ap.parse_args()
    if not os.path.isdir(args.runs_dir):
        print(f"sweep_summary: no directory {args.runs_dir}", file=sys.stderr)
        return 2
    dirs = sorted(d for d in glob.glob(os.path.join(args.runs_dir, "*")) if os.path.isdir(d))
    if not dirs:
        print(f"sweep_summary: no run directories in {args.runs_dir}", file=sys.stderr)
        return 1
    rows = sorted((read_run(d) for d in dirs), key=sort_key)
    print_table(rows)
    if args.csv:
        import csv
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["init", "activation", "depth", "n_hidden", "step", "loss", "test_acc",
                        "grad_ratio_first_last", "verdicts", "status", "dir"])
            for r in rows:
                w.writerow([r["init"], r["activation"], r["depth"], r["n_hidden"], r["step"], r["loss"],
                            r["test_acc"], r["ratio"], r["verdicts"], r["status"], r["dir"]])
    if args.png:
        draw_png(rows, args.png)
        print(f"wrote {args.png}")
    missing = [r for r in rows if r["status"] in ("missing", "unreadable") or r["status"].startswith("failed")]
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
