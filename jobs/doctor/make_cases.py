#!/usr/bin/python3
"""make_cases.py [--heldout SEED N OUTDIR]: the doctor's benchmark cases.

Without arguments: writes jobs/doctor/cases/*.ini, the tuned set (the rules
and thresholds were frozen against it). Each case is a complete config whose
first lines say what it is:
    ; family = spiral | teacher | fmnist      (the case family: its data set)
    ; expect = NAME[|NAME...]                 (the doctor's problem it must name; "none" for a healthy config)
    ; defect = what was broken on purpose
Data: spiral and teacher are built in; fmnist is the 6000/2000-image subset
that jobs/doctor/fmnist_subset.sh writes to data/ (paths relative to the
repository root, where run.sh runs).

--heldout SEED N OUTDIR: N cases drawn by a seeded generator (depth, width,
activation, init, learning rate, data scale) around the same defect kinds,
with parameters the tuned set does not use: the held-out set.
"""
import os, random, sys

BASE = {
    "spiral": dict(inp=2, out=3, data="synthetic = spiral\n"),
    "teacher": dict(inp=8, out=3, data="synthetic = teacher\n"),
    "fmnist": dict(inp=784, out=10, data="synthetic = none\ntrain = data/fmnist-6k-train.h5\n"
                   "test = data/fmnist-2k-test.h5\nscale = 0.00392156862745098\n"),
}
# A learning-rate problem shows as whichever of these comes first
LR_HIGH = "nonfinite|exploding|lr_too_high|dead"
TOO_SLOW = "stalled|slow|frozen"


def ini(family, expect, defect, hidden, act="relu", init="he_normal", lr=0.05, extra_model="", extra_data="",
        seed=42, extra_opt=""):
    b = BASE[family]
    layers = ",".join(str(x) for x in [b["inp"]] + hidden + [b["out"]])
    return (f"; family = {family}\n; expect = {expect}\n; defect = {defect}\n"
            f"[model]\nlayers = {layers}\nactivation = {act}\ninit = {init}\n{extra_model}"
            f"[data]\n{b['data']}{extra_data}"
            f"[train]\nepochs = 6\nseed = {seed}\nblas_threads = 1\nlog_every = 100000\n"
            f"[optimizer]\nlr = {lr:g}\n{extra_opt}")


def tuned():
    cases = {}
    for fam in BASE:
        # healthy: five per family
        cases[f"{fam}_ok_relu"] = ini(fam, "none", "none", [32, 32, 32])
        cases[f"{fam}_ok_relu_seed7"] = ini(fam, "none", "none", [32, 32, 32], seed=7)
        cases[f"{fam}_ok_tanh"] = ini(fam, "none", "none", [32, 32], act="tanh", init="xavier_normal", lr=0.05)
        cases[f"{fam}_ok_wide"] = ini(fam, "none", "none", [64, 64], lr=0.02)
        cases[f"{fam}_ok_deep"] = ini(fam, "none", "none", [32] * 6, lr=0.01)
        # broken: three of each defect per family
        for i, depth in enumerate((8, 10, 12)):
            cases[f"{fam}_sigmoid_deep{depth}"] = ini(fam, "vanishing", f"sigmoid x {depth} with xavier",
                                                      [32] * depth, act="sigmoid", init="xavier_normal")
        cases[f"{fam}_zeros"] = ini(fam, "symmetric", "all weights 0", [32, 32, 32], init="zeros")
        cases[f"{fam}_zeros_tanh"] = ini(fam, "symmetric", "all weights 0 (tanh)", [32, 32], act="tanh", init="zeros")
        cases[f"{fam}_constant"] = ini(fam, "symmetric", "all weights 0.05", [32, 32, 32], init="constant",
                                       extra_model="init_value = 0.05\n")
        for lr in (3, 5, 10):
            cases[f"{fam}_lr{lr}"] = ini(fam, LR_HIGH, f"learning rate {lr}", [32, 32, 32], lr=lr)
        for std in (1, 2):
            cases[f"{fam}_init_std{std}"] = ini(fam, "exploding|nonfinite", f"normal({std}) init, 10 relu layers",
                                                [64] * 10, init="normal", extra_model=f"init_std = {std}\n")
        cases[f"{fam}_init_gain8"] = ini(fam, "exploding|nonfinite", "he_normal x gain 8, 10 relu layers",
                                         [64] * 10, extra_model="init_gain = 8\n")
        for bias in ("-1.5", "-2", "-3"):
            cases[f"{fam}_bias{bias}"] = ini(fam, "dead", f"bias init {bias}: relu units that never fire", [32, 32, 32],
                                             extra_model=f"bias_init = {bias}\n")
        for lr in ("1e-5", "3e-6", "1e-6"):
            cases[f"{fam}_lr{lr}"] = ini(fam, TOO_SLOW, f"learning rate {lr}", [32, 32, 32], lr=float(lr))
    # one label each (added after the rules were frozen, labelled by the
    # defect, not by what the doctor says): a learning rate 100-500x too
    # small that still moves the loss (slow), 5e5x too small (frozen), 10x
    # too large (lr_too_high). Not for fmnist (its runs cost the most), and
    # no saturated-only case: a shallow net with a wide tanh or sigmoid init
    # still learns, and a deep one vanishes first.
    for fam in ("spiral", "teacher"):
        for lr in ("1e-4", "3e-4"):
            cases[f"{fam}_only_slow_lr{lr}"] = ini(fam, "slow", f"learning rate {lr}", [32, 32, 32], lr=float(lr))
        cases[f"{fam}_only_frozen_lr1e-7"] = ini(fam, "frozen", "learning rate 1e-7", [32, 32, 32], lr=1e-7)
        cases[f"{fam}_only_lr_too_high_lr0.5"] = ini(fam, "lr_too_high", "learning rate 0.5", [32, 32, 32], lr=0.5)
    for scale in ("1", "2", "1e-5"):
        cases[f"fmnist_scale{scale}"] = ini("fmnist", "unscaled_input", f"data.scale = {scale}", [64, 64],
                                            extra_data=f"scale = {scale}\n").replace(
                                                "scale = 0.00392156862745098\n", "", 1)
    return cases


def heldout(seed, n):
    rnd = random.Random(seed)
    kinds = ["healthy", "sigmoid", "zeros", "lr_high", "init_huge", "lr_low", "unscaled"]
    cases = {}
    fams = list(BASE)
    for i in range(n):
        # every fourth case healthy, the families in turn (each family's
        # baseline for the repair rate); the others a defect kind
        kind = "healthy" if i % 4 == 0 else kinds[1 + i % (len(kinds) - 1)] if i < 2 * len(kinds) else rnd.choice(kinds[1:])
        fam = "fmnist" if kind == "unscaled" else fams[(i // 4) % 3] if kind == "healthy" else rnd.choice(fams)
        width = rnd.choice([16, 24, 48])
        s = rnd.randrange(1, 1000)
        name = f"h{seed}_{i:02d}_{fam}_{kind}"
        if kind == "healthy":
            act, init = rnd.choice([("relu", "he_normal"), ("tanh", "xavier_normal"), ("leaky_relu", "he_uniform")])
            cases[name] = ini(fam, "none", "none", [width] * rnd.randint(2, 5), act=act, init=init,
                              lr=round(10 ** rnd.uniform(-2, -1.3), 4), seed=s)
        elif kind == "sigmoid":
            cases[name] = ini(fam, "vanishing", "deep sigmoid", [width] * rnd.randint(9, 14), act="sigmoid",
                              init=rnd.choice(["xavier_normal", "xavier_uniform"]), seed=s)
        elif kind == "zeros":
            cases[name] = ini(fam, "symmetric", "zero init", [width] * rnd.randint(2, 5),
                              act=rnd.choice(["relu", "tanh"]), init="zeros", seed=s)
        elif kind == "lr_high":
            cases[name] = ini(fam, LR_HIGH, "lr far too high", [width] * rnd.randint(2, 5),
                              lr=round(10 ** rnd.uniform(0.4, 1.3), 2), seed=s)
        elif kind == "init_huge":
            cases[name] = ini(fam, "exploding|nonfinite", "init far too large", [48] * rnd.randint(9, 12),
                              init="normal", extra_model=f"init_std = {rnd.uniform(1.0, 3.0):.2f}\n", seed=s)
        elif kind == "lr_low":
            cases[name] = ini(fam, TOO_SLOW, "lr far too low", [width] * rnd.randint(2, 5),
                              lr=float(f"{10 ** rnd.uniform(-6.5, -5):.2g}"), seed=s)
        else:
            sc = rnd.choice(["1", "0.5", "3", "2e-6"])
            cases[name] = ini(fam, "unscaled_input", f"data.scale = {sc}", [width] * rnd.randint(2, 4), seed=s,
                              extra_data=f"scale = {sc}\n").replace("scale = 0.00392156862745098\n", "", 1)
    return cases


def write(cases, out):
    os.makedirs(out, exist_ok=True)
    for name, text in cases.items():
        with open(os.path.join(out, name + ".ini"), "w") as f:
            f.write(text)
    print(f"{len(cases)} cases in {out}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--heldout":
        write(heldout(int(sys.argv[2]), int(sys.argv[3])), sys.argv[4])
    elif len(sys.argv) == 1:
        write(tuned(), os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases"))
    else:
        sys.exit(__doc__)
