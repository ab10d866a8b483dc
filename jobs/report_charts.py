"""The charts of gradscope's HTML report (jobs/report.py), drawn with
matplotlib and returned as inline SVG text.

Every function takes the report's Run (report.py) and returns
(svg, notes): svg is None when there is nothing to draw (the caller shows a
note instead), notes are sentences for the caption (e.g. how many values
were not finite and so not drawn). Nothing here reads files.

Non-finite values (NaN, Inf in a diverged run) are never drawn as numbers:
the finite ones are, and each non-finite one is a red mark at the top of
its panel, counted in the caption.
"""
import io
import re

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import ListedColormap, LogNorm  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation, MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

# Text stays text in the SVG (no glyph paths, no font files): the browser
# draws it with its own sans-serif, and the file stays small.
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["font.size"] = 9
# Deterministic ids and clip-path names: the same run gives the same file.
matplotlib.rcParams["svg.hashsalt"] = "gradscope-report"

# One colour per verdict (docs/statistics.md's list), "" = not recorded.
VERDICTS = ["healthy", "vanishing", "saturated", "dead", "symmetric", "exploding", "nonfinite", ""]
VERDICT_COLOURS = ["#4daf4a", "#377eb8", "#ff7f00", "#555555", "#984ea3", "#e41a1c", "#f781bf", "#eeeeee"]
NONFINITE_COLOUR = "#d62728"

# The histogram bins (the hist interface of issue #22): 0 exact zero;
# 1 below 2^-40; 2 + j for 2^(j-40) <= |x| < 2^(j-39), j = 0..49; 52 at
# least 2^10 and finite; 53 not finite.
N_HIST_BINS = 54
HIST_EXP0 = -40


def hist_bin_label(b):
    if b == 0:
        return "0"
    if b == 1:
        return "<2^%d" % HIST_EXP0
    if b == N_HIST_BINS - 2:
        return "\u22652^%d" % (HIST_EXP0 + 50)
    if b == N_HIST_BINS - 1:
        return "NaN/Inf"
    return "2^%d" % (HIST_EXP0 + b - 2)


def hist_ticks(b0, b1, nb):
    """Labelled bins between b0 and b1: the powers 2^-40, 2^-30, ... and the
    special bins (zero, NaN/Inf, the two open ends), none within 3 bins of
    one already taken (their labels would overlap)."""
    want = [b for b in range(2, nb - 2) if (b - 2 + HIST_EXP0) % 10 == 0] + [0, nb - 1, nb - 2, 1]
    ticks = []
    for b in want:
        if b0 <= b <= b1 and all(abs(b - t) > 3 for t in ticks):
            ticks.append(b)
    return sorted(ticks)


def svg_of(fig, prefix):
    """The figure as an <svg> element to inline in HTML: the XML prologue
    and metadata dropped, every id prefixed (several SVGs share one document, and
    matplotlib numbers its ids from 1 in each), width scaled by CSS."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)   # RDF about matplotlib: not for the reader
    s = re.sub(r'\bid="', 'id="%s-' % prefix, s)
    s = re.sub(r'url\(#', 'url(#%s-' % prefix, s)
    s = re.sub(r'xlink:href="#', 'xlink:href="#%s-' % prefix, s)
    s = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg \1', s, count=1)
    return s


def as_float(a):
    return np.asarray(a, dtype=np.float64)


def split_finite(y):
    """(y with non-finite as NaN, boolean mask of the non-finite entries)."""
    y = as_float(y)
    bad = ~np.isfinite(y)
    return np.where(bad, np.nan, y), bad


def mark_nonfinite(ax, x, bad, label="non-finite (not drawn)"):
    """A red tick at the top of the panel at each x where a value was not finite."""
    if bad.any():
        ax.plot(np.asarray(x)[bad], np.full(int(bad.sum()), 0.97), "|", color=NONFINITE_COLOUR, ms=9,
                transform=ax.get_xaxis_transform(), label=label)


def nonfinite_note(n, what):
    return ["%d non-finite %s not drawn (red marks at the top)" % (n, what)] if n else []


def use_log(*arrays):
    """A log axis when every finite value is positive and they span a decade."""
    v = np.concatenate([as_float(a).ravel() for a in arrays]) if arrays else np.array([])
    v = v[np.isfinite(v)]
    return v.size > 0 and bool(np.all(v > 0)) and v.max() > 10 * v.min()


def moving_mean(y, n):
    """Mean of the last n finite values at each point (NaN where none)."""
    y = as_float(y)
    ok = np.isfinite(y)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, y, 0.0))])
    k = np.concatenate([[0], np.cumsum(ok)])
    i = np.arange(1, y.size + 1)
    lo = np.maximum(i - n, 0)
    cnt = k[i] - k[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (c[i] - c[lo]) / np.maximum(cnt, 1), np.nan)


def legend_above(ax, ncol=4):
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=ncol, frameon=False,
                  fontsize=8, borderaxespad=0.0)


def layer_colours(n):
    cmap = plt.get_cmap("viridis")
    return [cmap(0.9 * i / max(n - 1, 1)) for i in range(n)]


def loss_chart(run):
    h = run.ck.history
    loss, bad = split_finite(h["loss"])
    if loss.size == 0:
        return None, ["no step recorded yet"]
    steps = np.arange(loss.size)
    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax.plot(steps, loss, lw=0.6, color="C0", alpha=0.45, label="training loss (each step)")
    smooth = max(1, loss.size // 100)
    if smooth > 1:
        ax.plot(steps, moving_mean(loss, smooth), lw=1.2, color="C0", label="mean of %d steps" % smooth)
    curves = [loss]
    for key, label, colour in (("eval_loss", run.eval_label + " loss", "C1"),
                               ("eval_validation_loss", "validation loss", "C2")):
        v, vbad = split_finite(h[key])
        if np.isfinite(v).any():
            ax.plot(h["eval_step"], v, "o-", ms=3, color=colour, label=label)
            curves.append(v)
    if use_log(*curves):
        ax.set_yscale("log")
    mark_nonfinite(ax, steps, bad, "non-finite loss")
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    legend_above(ax)
    return svg_of(fig, "loss"), nonfinite_note(int(bad.sum()), "losses")


def accuracy_chart(run):
    h = run.ck.history
    fig, ax = plt.subplots(figsize=(9, 3.0))
    drew = False
    acc = run.train_accuracy
    if acc is not None and np.isfinite(as_float(acc)).any():
        a, _ = split_finite(acc)
        n = max(1, a.size // 100)
        ax.plot(np.arange(a.size), moving_mean(a, n), lw=1.0, color="C0",
                label="training accuracy" + (" (mean of %d steps)" % n if n > 1 else ""))
        drew = True
    for key, label, colour in (("eval_accuracy", run.eval_label + " accuracy", "C1"),
                               ("eval_validation_accuracy", "validation accuracy", "C2")):
        v, _ = split_finite(h[key])
        if np.isfinite(v).any():
            ax.plot(h["eval_step"], v, "o-", ms=3, color=colour, label=label)
            drew = True
    if not drew:
        plt.close(fig)
        return None, ["no accuracy recorded (a regression, or no step or evaluation yet)"]
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    legend_above(ax)
    return svg_of(fig, "acc"), []


def lr_chart(run):
    if run.lr is None or run.lr.size == 0:
        return None, ["no learning rate recorded (format %d)" % run.ck.format_version]
    lr, bad = split_finite(run.lr)
    fig, ax = plt.subplots(figsize=(9, 2.4))
    ax.plot(np.arange(lr.size), lr, lw=1.0, color="C3")
    if use_log(lr):
        ax.set_yscale("log")
    mark_nonfinite(ax, np.arange(lr.size), bad)
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    return svg_of(fig, "lr"), nonfinite_note(int(bad.sum()), "values")


def record_extent(steps, n_rows):
    """imshow extent placing record i's column centred on its step."""
    s = as_float(steps)
    if s.size == 1:
        return (s[0] - 0.5, s[0] + 0.5, -0.5, n_rows - 0.5)
    half = 0.5 * (s[-1] - s[0]) / (s.size - 1)
    return (s[0] - half, s[-1] + half, -0.5, n_rows - 0.5)


def layer_ticks(ax, run, with_verdict=False):
    L = run.n_layers
    ax.set_yticks(range(L))
    if L <= 40:
        ax.set_yticklabels([run.layer_label(l) for l in range(L)], fontsize=7)
    ax.set_ylabel("layer")


def grad_norm_chart(run):
    g = as_float(run.stat("grad_norm"))
    steps = run.ck.history["stats_step"]
    if g.size == 0:
        return None, ["no statistics record yet"]
    bad = ~np.isfinite(g)
    show = np.ma.masked_where(bad | (g <= 0), g).T                  # [layers, records]
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.28 * run.n_layers + 0.8))
    notes = []
    if show.count() > 0:
        lo, hi = float(show.min()), float(show.max())
        if hi <= lo:
            hi = lo * 10
        im = ax.imshow(show, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                       norm=LogNorm(vmin=lo, vmax=hi), extent=record_extent(steps, run.n_layers))
        cb = fig.colorbar(im, ax=ax, label="\u2016dW\u2016 (log scale)", pad=0.01)
        if hi / lo < 100:   # under two decades: label the minor ticks too, or the bar has one number
            cb.ax.yaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    else:
        ax.set_xlim(record_extent(steps, run.n_layers)[:2])
        ax.set_ylim(-0.5, run.n_layers - 0.5)
    if bad.any():
        r, l = np.nonzero(bad)
        ax.plot(as_float(steps)[r], l, "x", color=NONFINITE_COLOUR, ms=5, label="non-finite")
        notes.append("%d non-finite norms marked with a red x" % int(bad.sum()))
        legend_above(ax)
    n_zero = int(((g == 0) & ~bad).sum())
    if n_zero:
        notes.append("%d zero norms left blank" % n_zero)
    layer_ticks(ax, run)
    ax.set_xlabel("step of the statistics record")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return svg_of(fig, "gnorm"), notes


def histogram_chart(run, key, what):
    """One heatmap per layer: x the record's step, y the magnitude bin,
    colour the fraction of the layer's entries in that bin (log scale)."""
    counts = run.hist.get(key)
    if counts is None:
        return None, [run.no_hist_note()]
    counts = np.asarray(counts, dtype=np.float64)                 # [records, layers, bins]
    steps = run.ck.history["stats_step"]
    if counts.shape[0] == 0 or steps.size == 0:
        return None, ["no statistics record yet"]
    n_rec = min(counts.shape[0], steps.size)
    counts, steps = counts[:n_rec], steps[:n_rec]
    L, nb = counts.shape[1], counts.shape[2]
    tot = counts.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(tot > 0, counts / np.maximum(tot, 1), 0.0)
    used = np.nonzero(frac.sum(axis=(0, 1)) > 0)[0]
    if used.size == 0:
        return None, ["the histograms are empty"]
    b0, b1 = max(int(used[0]) - 1, 0), min(int(used[-1]) + 1, nb - 1)  # the bins ever used, one either side
    ncol = min(L, 4)
    nrow = (L + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(9, 0.6 + 1.9 * nrow), squeeze=False, sharex=True, sharey=True)
    pos = frac[frac > 0]
    norm = LogNorm(vmin=max(float(pos.min()), 1e-7), vmax=1.0)
    ext = record_extent(steps, 1)
    im = None
    for l in range(nrow * ncol):
        ax = axes[l // ncol][l % ncol]
        if l >= L:
            ax.axis("off")
            continue
        im = ax.imshow(np.ma.masked_equal(frac[:, l, b0:b1 + 1].T, 0.0), aspect="auto", origin="lower",
                       cmap="magma_r", norm=norm, interpolation="nearest",
                       extent=(ext[0], ext[1], b0 - 0.5, b1 + 0.5))
        ax.set_title(run.layer_label(l), fontsize=8)
        ticks = hist_ticks(b0, b1, nb)
        ax.set_yticks(ticks)
        ax.set_yticklabels([hist_bin_label(b) for b in ticks], fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("step", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    fig.colorbar(im, ax=axes, label="fraction of the layer's %s" % what, pad=0.01, fraction=0.03)
    notes = []
    nonfin = counts[:, :, nb - 1].sum()
    if nonfin > 0:
        notes.append("%d non-finite entries in all (the NaN/Inf row)" % int(nonfin))
    return svg_of(fig, key), notes


def per_layer_lines(ax, run, field, log=False, ref=None):
    """One line per layer of statistic `field`; returns the non-finite count."""
    y = as_float(run.stat(field))
    steps = as_float(run.ck.history["stats_step"])
    bad = ~np.isfinite(y)
    cols = layer_colours(run.n_layers)
    for l in range(run.n_layers):
        v = np.where(bad[:, l], np.nan, y[:, l])
        if log:
            v = np.where(v > 0, v, np.nan)
        ax.plot(steps, v, lw=1.0, color=cols[l], label=str(l))
    if log and np.isfinite(np.where(y > 0, y, np.nan)).any():
        ax.set_yscale("log")
    if ref is not None:
        ax.axhline(ref, color="gray", ls="--", lw=0.8)
    mark_nonfinite(ax, steps, bad.any(axis=1))
    ax.grid(alpha=0.3)
    return int(bad.sum())


def lines_chart(run, fields, prefix, log=False, ref=None, ylim=None):
    """Panels side by side, one per statistic, a line per layer."""
    if run.n_records == 0:
        return None, ["no statistics record yet"]
    fig, axes = plt.subplots(1, len(fields), figsize=(9, 3.2), squeeze=False)
    n_bad = 0
    for ax, (field, label) in zip(axes[0], fields):
        n_bad += per_layer_lines(ax, run, field, log=log, ref=ref)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ylim:
            ax.set_ylim(*ylim)
    handles, labels = axes[0][0].get_legend_handles_labels()
    layer_handles = [(h, l) for h, l in zip(handles, labels) if l.isdigit()]
    fig.tight_layout()
    if layer_handles:   # on the right, where it covers neither a curve nor an axis label
        fig.legend([h for h, _ in layer_handles], ["layer " + l for _, l in layer_handles], loc="center left",
                   ncol=1 if len(layer_handles) <= 14 else 2, frameon=False, fontsize=7, bbox_to_anchor=(1.0, 0.5))
    return svg_of(fig, prefix), nonfinite_note(n_bad, "values")


def update_ratio_chart(run):
    return lines_chart(run, [("update_ratio", "\u2016\u0394W\u2016 / \u2016W\u2016 (dashed: 1e-3)")],
                       "upd", log=True, ref=1e-3)


def activation_chart(run):
    return lines_chart(run, [("act_mean", "activation mean"), ("act_std", "activation std")], "act")


def dead_saturated_chart(run):
    return lines_chart(run, [("dead_fraction", "dead fraction (relu)"),
                             ("saturated_fraction", "saturated fraction (sigmoid, tanh)")],
                       "deadsat", ylim=(-0.02, 1.02))


def verdict_chart(run):
    v = run.verdicts                                               # [records, layers] of str
    if v is None or v.size == 0:
        return None, ["no statistics record yet"]
    idx = np.vectorize(lambda s: VERDICTS.index(s) if s in VERDICTS else VERDICTS.index(""))(v)
    steps = run.verdict_steps
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.28 * run.n_layers + 0.6))
    ax.imshow(idx.T, aspect="auto", origin="lower", interpolation="nearest",
              cmap=ListedColormap(VERDICT_COLOURS), vmin=-0.5, vmax=len(VERDICTS) - 0.5,
              extent=record_extent(steps, run.n_layers))
    seen = [k for k in range(len(VERDICTS)) if (idx == k).any()]
    ax.legend([Patch(color=VERDICT_COLOURS[k]) for k in seen],
              [VERDICTS[k] or "not recorded" for k in seen], loc="lower left", bbox_to_anchor=(0.0, 1.01),
              ncol=len(seen), frameon=False, fontsize=8, borderaxespad=0.0)
    layer_ticks(ax, run)
    ax.set_xlabel("step of the statistics record")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return svg_of(fig, "verdict"), []


def throughput_chart(run):
    pts = run.metrics.throughput
    if not pts:
        return None, []
    x, y = zip(*pts)
    fig, ax = plt.subplots(figsize=(9, 2.4))
    ax.plot(x, y, ".-", ms=3, lw=0.8, color="C4")
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("samples/s")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return svg_of(fig, "tput"), []
