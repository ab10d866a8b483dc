#!/usr/bin/python3
"""report.py OUT_DIR — the markdown report of jobs/bench/run.sh: gradscope's
table, the side-by-side with PyTorch, 2-rank scaling with the share of the
allreduce hidden under backward, and the issue's targets, met or not.

Reads OUT_DIR/gradscope.tsv (gradscope-bench --tsv), OUT_DIR/torch.tsv
(torch_mlp.py --tsv, optional) and OUT_DIR/machine.txt."""
import os
import sys

G_COLS = ["label", "model", "ranks", "threads", "overlap", "batch", "params", "step", "data", "forward",
          "backward", "reduce", "stats", "update", "flops", "bound", "stats_step", "reduce_alone", "rss_peak",
          "rss_base", "rss_est", "est_params", "cpu_share", "opt_alone", "gemm_in_step", "kernel"]
T_COLS = ["label", "model", "procs", "threads", "step", "batch", "params", "kernel"]

# The targets.
BOUND_TARGET = {"W": 1.10, "D": 1.10, "S": 1.25}
TORCH_TARGET = {"W": 1.1, "D": 1.5, "S": 2.0}
SCALE_TARGET = {"W": 1.7, "D": 1.7}
RSS_TARGET = 1.3
REMEDY_TARGET = 1.15  # a remedy's step <= this x the model's step without it
REPRO_TARGET = {"W": 1.6, "D": 1.3, "S": 1.3}  # reproducible = true at the default 8 groups


def variant_target(model):
    """The issue's target for a variant row "M+v", or None."""
    base, _, v = model.partition("+")
    if v.startswith("repro"):
        return REPRO_TARGET.get(base) if v == "repro8" else None
    return REMEDY_TARGET
# bench_result.overlap: the mode of a row at > 1 rank
MODES = {-1: "-", 0: "off", 1: "on", 2: "shard"}
DEFAULT_2X1 = 2.0  # gradscope's default at > 1 rank: the sharded optimizer


def read(path, cols):
    rows = []
    if not os.path.exists(path):
        return rows
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if "gemm_in_step" in cols and len(f) == len(cols) - 1:  # a TSV from before the column: not measured
            f.insert(cols.index("gemm_in_step"), "0")
        if len(f) != len(cols):
            continue
        r = dict(zip(cols, f))
        for k, v in r.items():
            if k not in ("label", "model", "kernel"):
                r[k] = float(v)
        rows.append(r)
    return rows


# What a configuration's runs measure alone, outside its steps: lower limits
# that a neighbour on the host can only raise, so the least over the runs.
ALONE = ("bound", "opt_alone", "reduce_alone")


def median_runs(rows, key):
    """One row per configuration: of its repeated runs, the one with the
    median step time (its other columns come from the same run), except the
    measurements alone (ALONE), the least over the runs."""
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in key), []).append(r)
    out = []
    for k, rs in groups.items():
        rs = sorted(rs, key=lambda r: r["step"])
        med = dict(rs[(len(rs) - 1) // 2])
        for a in ALONE:
            if a in med:
                med[a] = min((r[a] for r in rs if r[a] > 0), default=med[a])
        med["runs"] = len(rs)
        out.append(med)
    return out


def ms(x):
    return f"{1e3 * x:.2f}"


def floor(r):
    """bound + optimizer alone + gradient communication alone"""
    return r["bound"] + r["opt_alone"] + r["reduce_alone"]


def in_step_floor(r):
    """what the step cannot do without: its GEMMs as they run inside it, the
    optimizer's passes, the communication and reading its batch (0: the
    GEMMs inside the step were not measured)"""
    return r["gemm_in_step"] + r["opt_alone"] + r["reduce_alone"] + r["data"] if r["gemm_in_step"] > 0 else 0.0


def ratio(a, b):
    return f"{a / b:.2f}" if a > 0 and b > 0 else "-"


def config_order(label):
    """1x1, 1x2, 2x1 first (the issue's configurations), then by ranks, threads."""
    order = {"1x1": 0, "1x2": 1, "2x1": 2}
    try:
        p, t = (int(x) for x in label.split("x"))
    except ValueError:
        return (9, 0, 0, label)
    return (order.get(label, 3), p, t, label)


def scaling(g, models):
    """Samples/s over ranks x 1 thread (sharded optimizer at > 1 rank), when
    more rank counts than 1 and 2 were run (CONFIGS in run.sh)."""
    def default_mode(r):  # 1 thread, one rank or the sharded optimizer
        return r["threads"] == 1 and r["overlap"] in (-1.0, DEFAULT_2X1)

    ranks = sorted({int(r["ranks"]) for r in g if default_mode(r)})
    if len(ranks) <= 2:
        return
    print("\n### Scaling over ranks (1 BLAS thread each, same global batch, sharded optimizer)\n")
    print("speedup = samples/s / 1x1 samples/s; efficiency = speedup / ranks; floors allow = 1x1 floor / Px1\n"
          "floor (what the speedup would be if both ran at their floors).\n")
    print("| model | ranks | local batch | step ms | samples/s | speedup | efficiency | bound ms | comm alone ms "
          "| floors allow | cpu |")
    print("|---|" + "---:|" * 10)
    for m in models:
        rows = {int(r["ranks"]): r for r in g if r["model"] == m and default_mode(r)}
        one = rows.get(1)
        if not one:
            continue
        for p in ranks:
            r = rows.get(p)
            if not r:
                continue
            sp = (r["batch"] / r["step"]) / (one["batch"] / one["step"])
            print(f"| {m} | {p} | {int(r['batch']) // p} | {ms(r['step'])} | {r['batch'] / r['step']:.0f} | "
                  f"{sp:.2f} | {sp / p:.2f} | {ms(r['bound'])} | {ms(r['reduce_alone'])} | "
                  f"{floor(one) / floor(r):.2f} | {r['cpu_share']:.2f} |")


def paired_ratios(g_rows, t_rows, model, label, mode):
    """gradscope / torch samples/s of each repeat: run.sh runs gradscope's
    i-th run of a configuration right before torch's i-th, so each pair is
    minutes apart at most and shares the host's state."""
    a = [r for r in g_rows if r["model"] == model and r["label"] == label and (mode is None or r["overlap"] == mode)]
    b = [r for r in t_rows if r["model"] == model and r["label"] == label]
    return [(x["batch"] / x["step"]) / (y["batch"] / y["step"]) for x, y in zip(a, b)]


def variants(out):
    """What each variant costs (run.sh VARIANTS=...): its step against the
    model's own in the same run and configuration."""
    rows = median_runs(read(os.path.join(out, "variants.tsv"), G_COLS), ("model", "label"))
    if not rows:
        return
    print("\n### What the remedies and the reproducible mode cost\n")
    print("gradscope-bench --remedies / --reproducible: each model in the default mode (one rank, or the sharded\n"
          "optimizer) as it is and in one variant: +adam (Adam instead of SGD with momentum), +batch / +layer (batch\n"
          "or layer norm on every hidden layer), +residual (blocks of one layer), +reproN ([train] reproducible =\n"
          "true with N groups). Step: the median run's, as above; ratio = the variant's step / the model's;\n"
          f"targets: a remedy <= {REMEDY_TARGET}; reproducible at the default 8 groups <= "
          + ", ".join(f"{v} on {m}" for m, v in REPRO_TARGET.items()) + " (16 and 64 groups: measured only).\n"
          "in-step GEMMs = the step's time in gs_sgemm (slowest rank); the rest = step - that: where a variant's\n"
          "cost lies in its GEMMs (the reproducible mode's one call per group) or outside them.\n")
    print("| model | PxT | step ms | ratio | met | fwd | bwd | reduce | update | in-step GEMMs ms | the rest ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    base = {(r["model"], r["label"]): r for r in rows if "+" not in r["model"]}
    rows.sort(key=lambda r: (r["model"].split("+")[0], config_order(r["label"]), r["model"]))
    for r in rows:
        b = base.get((r["model"].split("+")[0], r["label"]))
        q = r["step"] / b["step"] if b and "+" in r["model"] else None
        target = variant_target(r["model"])
        met = "" if q is None or target is None else ("yes" if q <= target else "no")
        print(f"| {r['model']} | {r['label']} | {ms(r['step'])} | {'' if q is None else f'{q:.2f}'} | {met} | "
              f"{ms(r['forward'])} | {ms(r['backward'])} | {ms(r['reduce'])} | {ms(r['update'])} | "
              f"{ms(r['gemm_in_step'])} | {ms(r['step'] - r['gemm_in_step'])} |")


def main():
    out = sys.argv[1]
    g_rows = read(os.path.join(out, "gradscope.tsv"), G_COLS)
    t_rows = read(os.path.join(out, "torch.tsv"), T_COLS)
    g = median_runs(g_rows, ("model", "label", "overlap"))
    t = median_runs(t_rows, ("model", "label"))
    g.sort(key=lambda r: (config_order(r["label"]), {2.0: 0, 0.0: 1, 1.0: 2}.get(r["overlap"], 0)))
    mib = 1 / 1048576
    print("## Performance\n")
    if os.path.exists(os.path.join(out, "machine.txt")):
        print("```\n" + open(os.path.join(out, "machine.txt")).read().strip() + "\n```\n")
    if not g:  # REMEDIES=only
        variants(out)
        return
    n_runs = max((r["runs"] for r in g), default=1)
    print(f"Each row: of {n_runs} runs of its configuration (in turn), the one with the median step time;\n"
          "bound, opt and comm (measured alone) are the least over the runs: a neighbour on the host can only\n"
          "slow them, and one slowed bound would make every ratio of its row look better than it is.\n")
    print("Step = median over the timed steps of the slowest rank's `trainer_step`; phases = medians of the\n"
          "trainer's timers (mean over ranks); mode at 2 ranks: shard = sharded optimizer (the default), off / on\n"
          "= replicated optimizer with overlap off / on; bound = the step's GEMMs alone through `gs_sgemm`\n"
          "(median of repeats, summed, slowest rank); opt = the optimizer alone (gradient norms + update of the\n"
          "rank's range; sharded, the norms are counted in comm and in the reduce phase: the reduce-scatter\n"
          "takes them, through shared memory in its own pass); comm = the gradient communication alone\n"
          "(allreduce, or reduce-scatter + allgather);\n"
          "floor = bound + opt + comm, the step if nothing overlapped and nothing else cost anything;\n"
          "in-step = the same GEMMs inside the step (the step's time in `gs_sgemm`, median over steps, slowest\n"
          "rank): what they cost where the step runs them, operands coming from memory rather than from the\n"
          "cache a repeated call leaves;\n"
          "GFLOP/s = F / step with F = sum_l 2 B n_in n_out (2 for layer 0, else 3) for the global batch B;\n"
          "stats step = `trainer_step(t, 0)` (statistics, no update); RSS = VmHWM per rank (max), base = RSS\n"
          "before `trainer_create` (MPI, OpenBLAS, libc); cpu = CPU time / (wall x threads) over the timed steps,\n"
          "lowest rank (< 0.9: preempted or idle threads).\n"
          "est = (params + grads + optimizer state + activations + backward buffers + kept values + data shard +\n"
          "batch) x 4 B.\n")
    print("| model | PxT | mode | step ms | data | fwd | bwd | reduce | stats | update | samples/s | GFLOP/s "
          "| bound ms | opt ms | comm ms | floor ms | step/bound | step/floor | in-step ms | in-step/bound "
          "| stats step ms | RSS MiB | base MiB | est MiB | RSS/est | (RSS-base)/est | cpu |")
    print("|---|---|---|" + "---:|" * 24)
    for r in g:
        print(f"| {r['model']} | {r['label']} | {MODES[int(r['overlap'])]} | {ms(r['step'])} | {ms(r['data'])} | "
              f"{ms(r['forward'])} | {ms(r['backward'])} | {ms(r['reduce'])} | {ms(r['stats'])} | {ms(r['update'])} | "
              f"{r['batch'] / r['step']:.0f} | {r['flops'] / r['step'] * 1e-9:.1f} | {ms(r['bound'])} | "
              f"{ms(r['opt_alone'])} | {ms(r['reduce_alone'])} | {ms(floor(r))} | "
              f"{r['step'] / r['bound']:.2f} | {r['step'] / floor(r):.2f} | "
              f"{ms(r['gemm_in_step']) if r['gemm_in_step'] > 0 else '-'} | {ratio(r['gemm_in_step'], r['bound'])} | "
              f"{ms(r['stats_step'])} | "
              f"{r['rss_peak'] * mib:.1f} | {r['rss_base'] * mib:.1f} | {r['rss_est'] * mib:.1f} | "
              f"{r['rss_peak'] / r['rss_est']:.2f} | {(r['rss_peak'] - r['rss_base']) / r['rss_est']:.2f} | "
              f"{r['cpu_share']:.2f} |")

    def gs(model, label, overlap=None):
        for r in g:
            if r["model"] == model and r["label"] == label and (overlap is None or r["overlap"] == overlap):
                return r
        return None

    def ts(model, label):
        for r in t:
            if r["model"] == model and r["label"] == label:
                return r
        return None

    models = []
    for r in g:
        if r["model"] not in models:
            models.append(r["model"])
    labels = ["1x1", "1x2", "2x1"]

    if t:
        print(f"\n### gradscope vs PyTorch (torch {t[0]['kernel']} kernel; 2x1 = DDP over gloo; "
              "gradscope 2x1 with the sharded optimizer, its default)\n")
        print("gradscope / torch = of the median rows; paired runs = the same ratio for each of the runs, its\n"
              "gradscope run and the torch run right after it (minutes apart at most), lowest to highest.\n")
        print("| model | PxT | gradscope samples/s | torch samples/s | gradscope / torch | paired runs |")
        print("|---|---|---:|---:|---:|---|")
        for m in models:
            for lab in labels:
                mode = DEFAULT_2X1 if lab == "2x1" else None
                a, b = gs(m, lab, mode), ts(m, lab)
                if a and b:
                    sa, sb = a["batch"] / a["step"], b["batch"] / b["step"]
                    pairs = " ".join(f"{x:.2f}" for x in sorted(paired_ratios(g_rows, t_rows, m, lab, mode)))
                    print(f"| {m} | {lab} | {sa:.0f} | {sb:.0f} | {sa / sb:.2f} | {pairs} |")

    print("\n### 2 ranks against 1, and the allreduce hidden under backward\n")
    print("scaling = best 2x1 samples/s / 1x1; floors allow = 1x1 floor / 2x1 sharded floor (what the scaling\n"
          "would be if both steps ran at their floors); hidden (wait) = 1 - reduce phase with overlap / without\n"
          "(replicated); hidden (step) = (step without overlap - step with) / the allreduce timed alone.\n")
    print("| model | 1x1 samples/s | 2x1 shard | 2x1 off | 2x1 on | scaling | floors allow | comm alone ms (shard) "
          "| allreduce alone ms | reduce off ms | reduce on ms | bwd off ms | bwd on ms | hidden (wait) | hidden (step) |")
    print("|---|" + "---:|" * 14)
    for m in models:
        one, sh, off, on = gs(m, "1x1"), gs(m, "2x1", 2.0), gs(m, "2x1", 0.0), gs(m, "2x1", 1.0)
        if not (one and sh and off and on):
            continue
        s1 = one["batch"] / one["step"]
        ssh, soff, son = sh["batch"] / sh["step"], off["batch"] / off["step"], on["batch"] / on["step"]
        hid_wait = 1 - on["reduce"] / off["reduce"] if off["reduce"] > 0 else 0
        hid_step = (off["step"] - on["step"]) / off["reduce_alone"] if off["reduce_alone"] > 0 else 0
        print(f"| {m} | {s1:.0f} | {ssh:.0f} | {soff:.0f} | {son:.0f} | {max(ssh, soff, son) / s1:.2f} | "
              f"{floor(one) / floor(sh):.2f} | {ms(sh['reduce_alone'])} | {ms(off['reduce_alone'])} | "
              f"{ms(off['reduce'])} | {ms(on['reduce'])} | {ms(off['backward'])} | {ms(on['backward'])} | "
              f"{hid_wait:.2f} | {hid_step:.2f} |")

    scaling(g, models)

    print("\n### Targets\n")
    print("Each target with what the floors of the same run allow (bound targets: floor / bound, the least\n"
          "step / bound can be without overlapping the optimizer or the communication with the GEMMs; scaling:\n"
          "1x1 floor / 2x1 floor). In-step floors: the same with what a step cannot do without, as it runs\n"
          "inside the step: in-step + opt + comm + data (its GEMMs, the optimizer's passes, the communication,\n"
          "reading its batch), nothing overlapped and nothing else costing anything.\n")
    print("| target | measured | met | floors allow | in-step floors allow |")
    print("|---|---|---|---|---|")
    for m in models:
        if m in BOUND_TARGET:
            for lab in labels:
                r = gs(m, lab, DEFAULT_2X1 if lab == "2x1" else None)
                if r:
                    q = r["step"] / r["bound"]
                    print(f"| {m} {lab}: step <= {BOUND_TARGET[m]:.2f} x BLAS bound | {q:.2f} | "
                          f"{'yes' if q <= BOUND_TARGET[m] else 'no'} | {floor(r) / r['bound']:.2f} | "
                          f"{ratio(in_step_floor(r), r['bound'])} |")
        if m in TORCH_TARGET and t:
            for lab in labels:
                a, b = gs(m, lab, DEFAULT_2X1 if lab == "2x1" else None), ts(m, lab)
                if a and b:
                    q = (a["batch"] / a["step"]) / (b["batch"] / b["step"])
                    print(f"| {m} {lab}: samples/s >= {TORCH_TARGET[m]} x PyTorch | {q:.2f} | "
                          f"{'yes' if q >= TORCH_TARGET[m] else 'no'} | {(b['step'] / floor(a)) * a['batch'] / b['batch']:.2f} | "
                          f"{ratio(b['step'] * a['batch'], in_step_floor(a) * b['batch'])} |")
        if m in SCALE_TARGET:
            one, sh, off, on = gs(m, "1x1"), gs(m, "2x1", 2.0), gs(m, "2x1", 0.0), gs(m, "2x1", 1.0)
            if one and sh and off and on:
                q = max(x["batch"] / x["step"] for x in (sh, off, on)) / (one["batch"] / one["step"])
                print(f"| {m}: 2 ranks >= {SCALE_TARGET[m]} x 1 rank | {q:.2f} | {'yes' if q >= SCALE_TARGET[m] else 'no'} "
                      f"| {floor(one) / floor(sh):.2f} | {ratio(in_step_floor(one), in_step_floor(sh))} |")
        for lab in labels:
            r = gs(m, lab, DEFAULT_2X1 if lab == "2x1" else None)
            if r:
                q = r["rss_peak"] / r["rss_est"]
                q2 = (r["rss_peak"] - r["rss_base"]) / r["rss_est"]
                print(f"| {m} {lab}: peak RSS <= {RSS_TARGET} x estimate | {q:.2f} (without the {r['rss_base'] * mib:.0f} "
                      f"MiB base: {q2:.2f}) | {'yes' if q <= RSS_TARGET else 'no'} | | |")
    variants(out)


if __name__ == "__main__":
    main()
