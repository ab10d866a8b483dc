#!/usr/bin/python3
"""jobs/scale/report.py OUT — the scaling study's tables and plot from the
TSVs jobs/scale/run.sh wrote (gradscope-bench's columns), as Markdown on
stdout and OUT/scaling.png.

Per platform, scaling mode, model, rank count and exchange strategy: the
simulated step, its split (compute = the step's forward, backward and update
phases less the exchange it waits for; exchange = the reduce phase, i.e. the
communication the step waits for after backward: what overlap leaves
exposed), and the parallel efficiency: weak, step(1 rank) / step(P); strong,
step(1 rank) / (P x step(P)). Then the 2-rank validation: simulated against
measured, with the error.
"""
import os
import sys

COLS = ("label model ranks threads mode batch n_params step data fwd bwd reduce stats update flops bound "
        "stats_step reduce_alone rss_peak rss_base rss_est rss_est0 cpu opt_alone gemm_in_step kernel").split()
MODES = {-1: "one rank", 0: "all-reduce", 1: "overlapped buckets", 2: "reduce-scatter + allgather"}
STRATEGIES = (2, 0, 1)


def read(path):
    rows = []
    if not os.path.exists(path):
        return rows
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) != len(COLS):
            continue
        r = dict(zip(COLS, f))
        for k in COLS:
            if k not in ("label", "model", "kernel"):
                r[k] = float(r[k])
        r["ranks"] = int(r["ranks"])
        r["mode"] = int(r["mode"])
        rows.append(r)
    # each row's efficiency is against the one-rank step of its own run: the
    # last one-rank row of its label and model before it in the file (TSVs
    # of several runs may be concatenated), else the first after it
    last, first = {}, {}
    for r in rows:
        if r["ranks"] == 1:
            last[(r["label"], r["model"])] = r["step"]
            first.setdefault((r["label"], r["model"]), r["step"])
        r["base"] = last.get((r["label"], r["model"]))
    for r in rows:
        if r["base"] is None:
            r["base"] = first.get((r["label"], r["model"]))
    return rows


def ms(x):
    return f"{1e3 * x:.2f}" if x < 0.1 else f"{1e3 * x:.1f}"


def study(rows):
    out = []
    keys = sorted({(r["label"], r["model"]) for r in rows if not r["label"].endswith("/validate")})
    for label, model in keys:
        platform, scaling = label.split("/")
        sel = [r for r in rows if r["label"] == label and r["model"] == model]
        out.append(f"\n#### {model}, {scaling} scaling, {platform}\n")
        out.append("| ranks | global batch | strategy | step ms | compute ms | exchange ms (exposed) | "
                   "exposed share | efficiency |")
        out.append("|---:|---:|---|---:|---:|---:|---:|---:|")
        for r in sorted(sel, key=lambda r: (r["ranks"], STRATEGIES.index(r["mode"]) if r["mode"] in STRATEGIES
                                            else -1)):
            p, base = r["ranks"], r["base"]
            if base is None:
                eff = "-"
            elif scaling == "weak":
                eff = f"{base / r['step']:.2f}"
            else:
                eff = f"{base / (p * r['step']):.2f}"
            compute = r["step"] - r["reduce"]
            out.append(f"| {p} | {int(r['batch'])} | {MODES.get(r['mode'], r['mode'])} | {ms(r['step'])} | "
                       f"{ms(compute)} | {ms(r['reduce'])} | {100 * r['reduce'] / r['step']:.1f} % | {eff} |")
    return out


def validation(sim, real):
    out = ["\n### Validation: 2 ranks simulated on this machine's platform against measured (the fastest of the "
           "real runs)\n",
           "| model | strategy | simulated ms | measured ms | error |", "|---|---|---:|---:|---:|"]
    for s in sim:
        if not s["label"].endswith("/validate"):
            continue
        m = [r["step"] for r in real if r["model"] == s["model"] and r["mode"] == s["mode"]]
        if not m:
            continue
        m = [min(m)]  # of repeated real runs, the least disturbed by the host's other work
        err = s["step"] / m[0] - 1
        flag = " (over 25 %)" if abs(err) > 0.25 else ""
        out.append(f"| {s['model']} | {MODES.get(s['mode'], s['mode'])} | {ms(s['step'])} | "
                   f"{ms(m[0])} | {100 * err:+.0f} %{flag} |")
    return out


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    keys = sorted({(r["label"], r["model"]) for r in rows if not r["label"].endswith("/validate")})
    if not keys:
        return False
    platforms = sorted({label.split("/")[0] for label, _ in keys})
    panels = sorted({(model, label.split("/")[1]) for label, model in keys})
    fig, axes = plt.subplots(len(platforms), len(panels), figsize=(3.6 * len(panels), 3.2 * len(platforms)),
                             squeeze=False)
    for i, platform in enumerate(platforms):
        for j, (model, scaling) in enumerate(panels):
            ax = axes[i][j]
            sel = [r for r in rows if r["label"] == f"{platform}/{scaling}" and r["model"] == model]
            for mode in STRATEGIES:
                # weak: the compute share of the step, which other runs' GEMM
                # timings do not disturb (= step(1) / step(P) where the compute
                # is one rank's); strong: step(1) / (P step(P))
                pts = sorted((r["ranks"], r["step"], r["base"], r["reduce"]) for r in sel
                             if r["mode"] == mode and (r["base"] or scaling == "weak"))
                if pts:
                    eff = [1 - x / t if scaling == "weak" else b / (p * t) for p, t, b, x in pts]
                    ax.plot([p for p, *_ in pts], eff, marker="o", label=MODES[mode])
            ax.set_xscale("log", base=2)
            ax.set_ylim(0, 1.1)
            ax.set_title(f"{model} {scaling}{' (compute share)' if scaling == 'weak' else ''}, {platform}", fontsize=9)
            ax.grid(alpha=0.3)
            if i == len(platforms) - 1:
                ax.set_xlabel("ranks")
            if j == 0:
                ax.set_ylabel("parallel efficiency")
    handles, labels = max((ax.get_legend_handles_labels() for ax in axes.flat), key=lambda hl: len(hl[0]))
    fig.tight_layout()
    if handles:
        fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(handles))
        fig.subplots_adjust(bottom=0.18)
    fig.savefig(path, dpi=110)
    return True


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: jobs/scale/report.py OUT")
    out = sys.argv[1]
    sim, real = read(os.path.join(out, "sim.tsv")), read(os.path.join(out, "real.tsv"))
    if not sim:
        sys.exit(f"jobs/scale/report.py: no simulated results in {out}/sim.tsv")
    print("### Simulated steps\n")
    print("compute = the step less the exchange it waits for; exchange = the reduce phase (with overlapped "
          "buckets, what backward did not hide); exposed share = exchange / step; efficiency: weak "
          "step(1)/step(P), strong step(1)/(P step(P)), against the one-rank run of the same study (of several "
          "concatenated, the last one-rank row before it; each run times its GEMM shapes afresh, so compute "
          "itself varies between runs).")
    print("\n".join(study(sim)))
    if real:
        print("\n".join(validation(sim, real)))
    if plot(sim, os.path.join(out, "scaling.png")):
        print(f"\n![parallel efficiency]({os.path.join(out, 'scaling.png')})")


if __name__ == "__main__":
    main()
