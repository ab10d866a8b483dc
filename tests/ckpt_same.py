#!/usr/bin/python3
"""ckpt_same.py A.h5 B.h5 [--ignore PATH]... [--expect-differ]

Every dataset of two checkpoints compared bit for bit (h5py, by path),
except the ignored ones (say /state/n_ranks: the run's own record).
Prints the datasets that differ, or how many were equal. Exit 0 when all
are equal; with --expect-differ, exit 0 when some /model dataset differs."""
import sys

import h5py
import numpy as np

args = sys.argv[1:]
expect_differ = "--expect-differ" in args
args = [a for a in args if a != "--expect-differ"]
ignore = {args[i + 1] for i, a in enumerate(args) if a == "--ignore"}
paths = [a for i, a in enumerate(args) if a != "--ignore" and (i == 0 or args[i - 1] != "--ignore")]
a, b = (h5py.File(p, "r") for p in paths[:2])


def datasets(f):
    out = {}
    f.visititems(lambda name, o: out.__setitem__("/" + name, o) if isinstance(o, h5py.Dataset) else None)
    return out


da, db = datasets(a), datasets(b)
common = (set(da) & set(db)) - ignore
differ = sorted((set(da) ^ set(db)) - ignore)
for name in sorted(common):
    x, y = da[name][()], db[name][()]
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.dtype != y.dtype or x.tobytes() != y.tobytes():
        differ.append(name)
n = len(common)
if differ:
    print(f"{len(differ)} of {n} datasets differ: " + ", ".join(differ[:12]) + (" ..." if len(differ) > 12 else ""))
else:
    print(f"all {n} datasets bitwise equal" + (f" (ignored: {', '.join(sorted(ignore))})" if ignore else ""))
if expect_differ:
    sys.exit(0 if any(d.startswith("/model/") for d in differ) else 1)
sys.exit(1 if differ else 0)
