"""Read gradscope checkpoints and run directories: the layout of
docs/checkpoint-format.md decoded in one place, for every script
(plot_checkpoint.py, export_torch.py, sweep_summary.py).

    import gradscope_ckpt as gc
    path = gc.resolve("runs/iris")          # a run directory: its newest checkpoint
    ck = gc.read(path)                      # model, config, history, input statistics
    ck.layers[0].weight, ck.output, ck.history["loss"], ck.standardize
    ck.grad_hist, ck.preact_hist, ck.hist_edges   # (records, layers, 54) int64, (51,) float64; None before format 5

Needs Debian's python3-h5py and python3-numpy. Every problem is a
CheckpointError whose message names the file and what is wrong.
"""
import configparser
import glob
import os

import h5py
import numpy as np

FORMAT = "gradscope-checkpoint"
NEWEST_FORMAT = 5
HIST_BINS = 54  # zero, below 2^-40, one per power of two 2^-40 .. 2^10, above, non-finite


class CheckpointError(Exception):
    """A path that is not a readable gradscope checkpoint or run directory."""


def text(v):
    """h5py gives fixed-length strings as bytes, one-element datasets as arrays."""
    if isinstance(v, np.ndarray):
        v = v.reshape(-1)[0] if v.size == 1 else v
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, np.bytes_)) else str(v)


def is_run_dir(path):
    return os.path.isdir(path) and (os.path.isfile(os.path.join(path, "latest"))
                                    or bool(glob.glob(os.path.join(path, "ckpt_*.h5"))))


def checkpoints(run_dir):
    """The run's ckpt_<step>.h5 files, oldest first."""
    return sorted(glob.glob(os.path.join(run_dir, "ckpt_*.h5")))


def incidents(run_dir):
    """Its incident records (nonfinite_<step>.h5), oldest first."""
    return sorted(glob.glob(os.path.join(run_dir, "nonfinite_*.h5")))


def latest(run_dir):
    """The checkpoint `latest` names, else the newest ckpt_*.h5, else None."""
    ptr = os.path.join(run_dir, "latest")
    if os.path.isfile(ptr):
        with open(ptr) as f:
            name = f.read().strip()
        path = os.path.join(run_dir, name)
        if name and os.path.isfile(path):
            return path
    files = checkpoints(run_dir)
    return files[-1] if files else None


def resolve(path):
    """A checkpoint file, or a run directory's newest checkpoint."""
    if os.path.isdir(path):
        found = latest(path)
        if found is None:
            extra = ""
            if incidents(path):
                extra = "; it holds only incident records: " + ", ".join(os.path.basename(p) for p in incidents(path))
            raise CheckpointError("%s is not a gradscope run directory: no checkpoint (ckpt_*.h5) in it%s"
                                  % (path, extra))
        return found
    if not os.path.exists(path):
        raise CheckpointError("%s does not exist" % path)
    return path


def parse_config(cfg_text):
    """The INI text a checkpoint stores, as {"section.key": "value"}."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), strict=False, interpolation=None)
    try:
        cp.read_string(cfg_text)
    except configparser.Error:
        return {}
    return {"%s.%s" % (s, k): v.strip() for s in cp.sections() for k, v in cp[s].items()}


class Layer:
    """One weight layer: W (n_out, n_in), b, and where normalized gamma,
    beta (and for batch norm the running mean and variance); its
    activation, norm, dropout probability and init as the file says."""

    def __init__(self, g):
        self.weight = g["weight"][()]
        self.bias = g["bias"][()]
        a = g["weight"].attrs
        self.activation = text(a.get("activation", b"?"))
        self.init = text(a.get("init", b"?"))
        self.norm = text(a.get("norm", b"none"))
        self.dropout = float(text(a.get("dropout", b"0")))
        self.gamma = g["gamma"][()] if "gamma" in g else None
        self.beta = g["beta"][()] if "beta" in g else None
        self.running_mean = g["running_mean"][()] if "running_mean" in g else None
        self.running_var = g["running_var"][()] if "running_var" in g else None
        self.block_start = self.block_end = False


class Checkpoint:
    """Everything a script needs from one checkpoint file."""

    def __init__(self, path):
        self.path = path
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise CheckpointError("%s is not a readable HDF5 file: %s" % (path, e))
        with f:
            if text(f.attrs.get("format", b"")) != FORMAT:
                raise CheckpointError("%s is not a gradscope checkpoint (no format attribute '%s')" % (path, FORMAT))
            self.format_version = int(f.attrs["format_version"])
            if self.format_version > NEWEST_FORMAT:
                raise CheckpointError("%s: format_version %d is newer than this script reads (%d)"
                                      % (path, self.format_version, NEWEST_FORMAT))
            try:
                self._read(f)
            except KeyError as e:
                raise CheckpointError("%s: missing %s" % (path, e))

    def _read(self, f):
        self.step = int(f.attrs["step"])
        self.epoch = int(f.attrs["epoch"])                    # 0-based epoch of the next step
        self.batch_in_epoch = int(f.attrs["batch_in_epoch"])
        self.n_ranks = int(f.attrs["n_ranks"])
        self.config = parse_config(text(f["config"][()]))
        self.residual = int(f.attrs.get("residual", 0))
        self.optimizer = text(f.attrs.get("optimizer", b"sgd"))
        names = [text(n) for n in f["model/layer_names"][()]]
        self.layers = [Layer(f["model/" + n]) for n in names]
        # residual blocks of K: the hidden-to-hidden layers 1 .. L-2, from layer 1 on
        L, K = len(self.layers), self.residual
        first = 1
        while K > 0 and first + K - 1 <= L - 2:
            self.layers[first].block_start = True
            self.layers[first + K - 1].block_end = True
            first += K
        self.output = self.config.get("model.output", "softmax")
        self.scale = float(self.config.get("data.scale", "1"))
        self.norm_eps = float(self.config.get("model.norm_eps", "1e-5"))
        self.leaky_slope = float(self.config.get("model.leaky_slope", "0.01"))
        # (format 4) the training set's per-feature mean and standard deviation
        # that inputs are standardized with, and the class names
        self.standardize = None
        if "data/normalize/mean" in f:
            self.standardize = (f["data/normalize/mean"][()], f["data/normalize/std"][()])
        self.classes = [text(c) for c in f["data/classes"][()]] if "data/classes" in f else None
        h = {"loss": f["history/loss"][()],
             "eval_step": f["history/eval/step"][()],
             "eval_epoch": f["history/eval/epoch"][()],
             "eval_loss": f["history/eval/loss"][()],
             "eval_accuracy": f["history/eval/accuracy"][()],
             "stats_step": f["history/stats/step"][()],
             "verdict": [text(v) for v in f["history/stats/verdict"][()]]}
        n = h["eval_step"].shape[0]
        for k in ("validation_loss", "validation_accuracy"):
            key = "history/eval/" + k
            h["eval_" + k] = f[key][()] if key in f else np.full(n, np.nan, dtype=np.float32)
        h["stats"] = {k: f["history/stats/" + k][()] for k in f["history/stats"]
                      if k not in ("step", "verdict", "grad_hist", "preact_hist")}
        self.history = h
        # (format 5) each record's histograms by power of two: (records, layers,
        # 54) counts of the gradient and of the pre-activations; hist_edges
        # (51,) the edges 2^-40 .. 2^10 of bins 2 .. 52 (docs/statistics.md).
        # None before format 5 or where the run took none ([stats] histograms).
        self.grad_hist = self.preact_hist = self.hist_edges = None
        if "history/stats/grad_hist" in f and "history/stats/preact_hist" in f:
            g, p = f["history/stats/grad_hist"], f["history/stats/preact_hist"]
            want = (h["stats_step"].shape[0], len(self.layers), HIST_BINS)
            if g.shape != want or p.shape != want:
                raise CheckpointError("%s: the histograms are %s and %s, expected %s (records, layers, bins)"
                                      % (self.path, g.shape, p.shape, want))
            self.grad_hist = g[()].astype(np.int64)
            self.preact_hist = p[()].astype(np.int64)
            self.hist_edges = np.asarray(g.attrs["bin_edges"], dtype=np.float64)
            if self.hist_edges.shape != (HIST_BINS - 3,):
                raise CheckpointError("%s: /history/stats/grad_hist has %d bin edges, expected %d"
                                      % (self.path, self.hist_edges.size, HIST_BINS - 3))

    @property
    def n_inputs(self):
        return self.layers[0].weight.shape[1]

    @property
    def n_outputs(self):
        return self.layers[-1].weight.shape[0]


def read(path):
    """The checkpoint at path (a file, or a run directory's newest)."""
    return Checkpoint(resolve(path))
