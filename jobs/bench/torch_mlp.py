#!/usr/bin/python3
"""torch_mlp.py — the PyTorch side of gradscope's benchmark: the same MLPs,
batch sizes, optimizer (SGD, lr 0.01, momentum 0.9, softmax cross-entropy),
threads and OpenBLAS kernel, one training step timed at a time.

  torch_mlp.py --models W,D,S --threads 1 --procs 1 --steps 30 --warmup 4 --tsv out.tsv

--procs 2 runs DistributedDataParallel over gloo on localhost: each process
gets half the global batch, as a gradscope rank does. The step time is the
slowest process's, median over steps. Each step reads its batch as a
gradscope step does, inside the timed step: the rows of a random
permutation of a training set of --n-train rows (N(0,1) inputs, random
labels; gradscope-bench's default is also 16384 rows), one epoch after the
other; with --procs 2, each process its half of the global batch, as a
DistributedSampler gives it. The permutation of each epoch is drawn outside
the timed step.

The OpenBLAS kernel is reported from the library torch loaded (Debian's torch
calls the system OpenBLAS for float32 Linear): set OPENBLAS_CORETYPE and
OPENBLAS_NUM_THREADS in the environment, as jobs/bench/run.sh does.
"""
import argparse
import ctypes
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn

MODELS = {
    "W": ([784, 2048, 2048, 2048, 10], nn.ReLU, 256),
    "D": ([784] + [256] * 30 + [10], nn.Tanh, 128),
    "S": ([784, 128, 64, 10], nn.Sigmoid, 64),
}


def openblas_info():
    """Kernel and thread count of the OpenBLAS that this process loaded."""
    torch.mm(torch.ones(8, 8), torch.ones(8, 8))
    paths = sorted({l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l and "/" in l})
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode(), lib.openblas_get_num_threads(), p
        except (OSError, AttributeError):
            continue
    # a torch that brings its own BLAS (PyPI's wheels: oneMKL on x86-64)
    return ("MKL" if torch.backends.mkl.is_available() else "not-openblas"), torch.get_num_threads(), ""


def build(name):
    sizes, act, batch = MODELS[name]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers), sizes, batch


def bench_model(name, args, rank, world):
    torch.manual_seed(1)
    model, sizes, batch = build(name)
    local = (batch + world - 1) // world
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(100)  # (the same set and order on every process)
    n = args.n_train
    # NumPy gathers the rows into one batch buffer, allocated once, as
    # gradscope does. A fresh tensor each step (torch's index_select, or
    # NumPy's indexing) made some runs of S at 1 x 2 threads take 8 ms a
    # step instead of about 1, for a reason not pinned down.
    X = torch.randn(n, sizes[0], generator=g).numpy()
    Y = torch.randint(0, sizes[-1], (n,), generator=g).numpy()
    perm, at = None, n
    xb, yb = X[:local].copy(), Y[:local].copy()  # the batch, gathered into in place
    x, y = torch.from_numpy(xb), torch.from_numpy(yb)
    times = []
    for i in range(args.warmup + args.steps):
        if at + world * local > n:  # a new epoch (a final partial batch is dropped)
            perm, at = torch.randperm(n, generator=g).numpy(), 0
        t0 = time.perf_counter()
        idx = perm[at + rank * local:at + (rank + 1) * local]
        at += world * local
        X.take(idx, axis=0, out=xb)
        Y.take(idx, axis=0, out=yb)
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt)
    t = torch.tensor(times, dtype=torch.float64)
    if world > 1:
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    step = statistics.median(t.tolist())
    params = sum(p.numel() for p in model.parameters())
    return step, batch, params


def worker(rank, world, args):
    torch.set_num_threads(args.threads)
    if world > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(args.port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
    core, bthreads, lib = openblas_info()
    if rank == 0:
        print(f"torch {torch.__version__}: {world} process{'es' if world > 1 else ''} x {args.threads} thread(s), "
              f"OpenBLAS kernel {core} ({bthreads} BLAS threads, {lib})")
        print(f"{'model':6} {'PxT':4} {'step ms':>8} {'samples/s':>10}")
    for name in args.models.split(","):
        step, batch, params = bench_model(name, args, rank, world)
        if rank == 0:
            print(f"{name:6} {world}x{args.threads}  {1e3 * step:8.2f} {batch / step:10.0f}", flush=True)
            if args.tsv:
                with open(args.tsv, "a") as f:
                    label = args.label or f"{world}x{args.threads}"
                    f.write(f"{label}\t{name}\t{world}\t{args.threads}\t{step:.6e}\t{batch}\t{params}\t{core}\n")
    if world > 1:
        dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="W,D,S")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--n-train", type=int, default=16384, help="rows of the training set (default 16384)")
    ap.add_argument("--tsv")
    ap.add_argument("--label")
    ap.add_argument("--port", type=int, default=29517)
    args = ap.parse_args()
    for m in args.models.split(","):
        if m not in MODELS:
            sys.exit(f"torch_mlp.py: unknown model {m} (W, D, S)")
    if args.procs == 1:
        worker(0, 1, args)
    else:
        torch.multiprocessing.spawn(worker, args=(args.procs, args), nprocs=args.procs, join=True)


if __name__ == "__main__":
    main()
