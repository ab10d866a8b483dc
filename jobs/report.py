#!/usr/bin/python3
"""One self-contained HTML file that shows what a gradscope run recorded.

    report.py RUN_DIR|CHECKPOINT [-o report.html] [--gradscope PATH]
    gradscope report RUN_DIR -o report.html        (the same, through the binary)

A run directory stands for its newest readable checkpoint, or for its newest
incident record (nonfinite_<step>.h5) where that is at a later step, as
`gradscope doctor` picks. Everything essential comes from that file; the
run's metrics.jsonl, where there is one, adds the samples/s. The doctor's
findings come from `gradscope doctor FILE --json` (the binary named by
--gradscope, or the one beside this script, or on PATH); without it the
recorded repairs are shown. Charts are matplotlib SVG inlined in the page:
nothing is fetched from the network, no script runs. docs/report.md
describes every chart.

Exit status: 0; 1 when the output cannot be written or a module is missing;
2 for a bad call; 4 when the path is not a run directory or a readable
checkpoint. Problems that leave part of the run readable (a half-written
metrics line, non-finite values, an older format without histograms, no
doctor) are notes in the report, and a line on stderr, not failures.
"""
import argparse
import datetime
import html
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import h5py
    import numpy as np
    import gradscope_ckpt as gc
    import report_charts as charts
except ImportError as e:
    print("gradscope report: %s: %s needs Debian's python3-h5py, python3-numpy and python3-matplotlib "
          "(or set GRADSCOPE_PYTHON to a python3 that has them)" % (e, sys.executable), file=sys.stderr)
    sys.exit(1)

PROG = "gradscope report"


def warn(msg):
    print("%s: %s" % (PROG, msg), file=sys.stderr)


def open_checkpoint(path):
    """gc.Checkpoint, with a damaged file's HDF5 error (a failed checksum
    surfaces as OSError while reading) turned into a CheckpointError."""
    try:
        return gc.Checkpoint(path)
    except (OSError, ValueError, TypeError) as e:
        raise gc.CheckpointError("%s cannot be read: %s" % (path, e))


def first_readable(paths, notes):
    """The first of paths that opens as a checkpoint (None if none does),
    with a note for each one skipped."""
    for p in paths:
        try:
            return open_checkpoint(p)
        except gc.CheckpointError as e:
            notes.append("skipped %s" % e)
    return None


def pick(path, notes):
    """The checkpoint the report shows: a file as given; for a run directory
    the checkpoint `latest` names, else the newest readable ckpt_*.h5, or
    the newest incident record where its step is at least that one's."""
    if not os.path.exists(path):
        raise gc.CheckpointError("%s does not exist" % path)
    if not os.path.isdir(path):
        return open_checkpoint(path)
    first = gc.latest(path)
    order = ([first] if first else []) + [p for p in reversed(gc.checkpoints(path)) if p != first]
    incidents = list(reversed(gc.incidents(path)))
    if not order and not incidents:
        raise gc.CheckpointError("%s is not a gradscope run directory: no checkpoint (ckpt_*.h5) or incident "
                                 "record (nonfinite_*.h5) in it" % path)
    ck, inc = first_readable(order, notes), first_readable(incidents, notes)
    if ck is None and inc is None:
        raise gc.CheckpointError("%s: no readable checkpoint or incident record (%s)" % (path, "; ".join(notes)))
    if inc is not None and (ck is None or inc.step >= ck.step):
        notes.append("the run stopped on a non-finite step: this report shows its incident record %s"
                     % os.path.basename(inc.path))
        return inc
    return ck


METRICS_SCHEMA = 1


class Metrics:
    """RUN_DIR/metrics.jsonl, read as far as it is valid: one JSON object a
    line with a `kind` and `schema` 1 (a record of another schema is
    skipped: its fields may mean something else); a `resume` record at step
    S drops the records read before it with a step above S (a requeue or
    the doctor's rollback replays those steps); a last line without its
    newline is being written and is skipped. The rules of the stream's own
    reader (jobs/gradscope_metrics.py, docs/metrics.md, on branch watch).
    Only extras come from here (samples/s)."""

    def __init__(self, path, notes):
        self.path = path
        self.records = []
        self.throughput = []
        if not os.path.isfile(path):
            return
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            notes.append("%s cannot be read: %s" % (path, e))
            return
        lines = data.split(b"\n")
        if lines and lines[-1].strip():
            notes.append("the last line of %s is half-written (the run is still writing it): skipped"
                         % os.path.basename(path))
        n_bad = n_schema = 0
        for line in lines[:-1]:
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError:
                n_bad += 1
                continue
            if not isinstance(r, dict) or "kind" not in r:
                n_bad += 1
                continue
            if r.get("schema") != METRICS_SCHEMA:
                n_schema += 1
                continue
            if r["kind"] == "resume" and isinstance(r.get("step"), int):
                s = r["step"]
                self.records = [x for x in self.records if not (isinstance(x.get("step"), (int, float))
                                                               and x["step"] > s)]
            self.records.append(r)
        if n_bad:
            notes.append("%d line%s of %s are not JSON records with a kind: skipped"
                         % (n_bad, "" if n_bad == 1 else "s", os.path.basename(path)))
        if n_schema:
            notes.append("%d record%s of %s of a schema other than %d: skipped"
                         % (n_schema, "" if n_schema == 1 else "s", os.path.basename(path), METRICS_SCHEMA))
        for r in self.records:
            v = next((r[k] for k in r if k.startswith("samples_per") or k == "samples_s"), None)
            if isinstance(r.get("step"), (int, float)) and isinstance(v, (int, float)) and np.isfinite(v):
                self.throughput.append((r["step"], float(v)))


class Run:
    """What the charts read: the checkpoint (through gradscope_ckpt), the
    format 4 and 5 datasets it does not decode yet (read here with h5py),
    the metrics stream and the doctor's report."""

    def __init__(self, ck, run_dir, notes):
        self.ck = ck
        self.notes = notes
        self.n_layers = len(ck.layers)
        h = ck.history
        self.n_records = int(np.asarray(h["stats_step"]).size)
        cfg = ck.config
        self.eval_label = "test" if cfg.get("data.test") or cfg.get("data.synthetic", "none") != "none" else "evaluation"
        self.train_accuracy = self.lr = None
        self.repairs = []
        self.hist = {}
        self.hist_edges = None
        self.attrs = {}
        with h5py.File(ck.path, "r") as f:
            self._read_extras(f, notes)
        if not self.hist:
            notes.append(self.no_hist_note())
        steps = np.asarray(h["stats_step"])
        verdicts = self.verdicts
        if verdicts is not None and verdicts.shape == (self.n_records, self.n_layers):
            self.verdicts, self.verdict_steps = verdicts, steps
        elif self.n_records:
            # before format 4 only the last record's verdicts are stored
            self.verdicts = np.array([h["verdict"]], dtype=object)
            self.verdict_steps = steps[-1:]
            notes.append("format %d stores the verdicts of the last record only" % ck.format_version)
        else:
            self.verdicts, self.verdict_steps = None, steps
        self.metrics = Metrics(os.path.join(run_dir, "metrics.jsonl"), notes) if run_dir else Metrics("", notes)
        self.doctor = None

    def _read_extras(self, f, notes):
        """The datasets gradscope_ckpt does not decode: format 4's training
        accuracy, learning rate, per-record verdicts and repairs, format 5's
        histograms. One that cannot be read (a failed checksum) is a note
        and is left out; the rest of the report stands."""
        self.verdicts = None
        for name, read in (("/ attributes", self._read_attrs), ("/history/accuracy, /history/lr", self._read_curves),
                           ("/history/verdicts", self._read_verdicts), ("/doctor/repairs", self._read_repairs),
                           ("the histograms", self._read_hist)):
            try:
                read(f)
            except (OSError, KeyError, ValueError, TypeError) as e:
                notes.append("%s: %s cannot be read (%s): left out" % (self.ck.path, name, e))

    def _read_attrs(self, f):
        self.attrs = {k: gc.text(f.attrs[k]) for k in ("gradscope_version", "created", "blas_kernel")
                      if k in f.attrs}

    def _read_curves(self, f):
        if "history/accuracy" in f:
            self.train_accuracy = f["history/accuracy"][()]
        if "history/lr" in f:
            self.lr = f["history/lr"][()]

    def _read_verdicts(self, f):
        if "history/verdicts" in f:
            self.verdicts = np.array([[gc.text(x) for x in row] for row in f["history/verdicts"][()]],
                                     dtype=object).reshape(f["history/verdicts"].shape)

    def _read_repairs(self, f):
        if "doctor/repairs/step" in f:
            g = f["doctor/repairs"]
            for i in range(g["step"].shape[0]):
                self.repairs.append({"step": int(g["step"][i]), "resumed_at": int(g["resumed_at"][i]),
                                     "symptom": gc.text(g["symptom"][i]), "evidence": gc.text(g["evidence"][i]),
                                     "set": gc.text(g["remedy"][i]).split()})

    def _read_hist(self, f):
        # from the reader where it has them, else straight from the file; absent before format 5
        ck = self.ck
        for key in ("grad_hist", "preact_hist"):
            v = getattr(ck, key, None)
            if v is None and "history/stats/" + key in f:
                d = f["history/stats/" + key]
                v = d[()]
                if self.hist_edges is None and "bin_edges" in d.attrs:
                    self.hist_edges = d.attrs["bin_edges"]
            if v is not None:
                self.hist[key] = np.asarray(v)
        if self.hist_edges is None:
            self.hist_edges = getattr(ck, "hist_edges", None)

    def no_hist_note(self):
        """Why there are no histograms: the format predates them, or the run took none."""
        if self.ck.format_version >= 5 and self.ck.config.get("stats.histograms", "true") == "false":
            return "no histograms in this checkpoint: the run took none ([stats] histograms = false)"
        return "no histograms in this checkpoint (format %d)" % self.ck.format_version

    def stat(self, field):
        """The statistic `field` as [records, layers] (zeros where the file lacks it)."""
        v = self.ck.history["stats"].get(field)
        return np.zeros((self.n_records, self.n_layers)) if v is None else v

    def layer_label(self, l):
        lay = self.ck.layers[l]
        return "%d %s [%d, %d]" % (l, lay.activation, lay.weight.shape[0], lay.weight.shape[1])


def find_gradscope(given):
    """The gradscope binary: --gradscope, else beside this script in the
    source tree (build/) or an installation (share/gradscope -> bin/), else PATH."""
    if given:
        return given
    for p in (os.path.join(HERE, "..", "build", "gradscope"), os.path.join(HERE, "..", "..", "bin", "gradscope")):
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return os.path.normpath(p)
    return shutil.which("gradscope")


def run_doctor(run, binary):
    """`gradscope doctor FILE --json` on the file the report shows."""
    if not binary:
        run.notes.append("gradscope not found (give --gradscope PATH): the doctor's findings are not shown, "
                         "only the repairs the checkpoint records")
        return
    try:
        p = subprocess.run([binary, "doctor", run.ck.path, "--json"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        run.notes.append("gradscope doctor could not run: %s" % e)
        return
    if p.returncode != 0:
        first = (p.stderr.strip().splitlines() or ["exit status %d" % p.returncode])[0]
        run.notes.append("gradscope doctor failed: %s" % first)
        return
    try:
        run.doctor = json.loads(p.stdout)
    except ValueError as e:
        run.notes.append("gradscope doctor wrote no JSON: %s" % e)


# ---------------------------------------------------------------- HTML

CSS = """
body { font-family: sans-serif; margin: 0 auto; max-width: 1000px; padding: 1em 1.5em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.88em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
table.facts th { width: 10em; }
figure { margin: 1em 0; padding: 0.5em; border: 1px solid #e4e4e4; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 0.85em; color: #444; margin-top: 0.3em; }
.note { background: #fff6d6; border-left: 4px solid #e0b000; padding: 0.4em 0.8em; font-size: 0.9em; }
.problem { background: #fde8e8; border-left: 4px solid #d62728; padding: 0.4em 0.8em; }
.ok { background: #e8f6e8; border-left: 4px solid #4daf4a; padding: 0.4em 0.8em; }
code { background: #f2f2f2; padding: 0 3px; }
"""

E = html.escape


def fmt(x, spec="%.4g"):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "-"
    return spec % x if np.isfinite(x) else str(x)


def last_finite(a):
    a = np.asarray(a, dtype=np.float64)
    ok = np.nonzero(np.isfinite(a))[0]
    return (int(ok[-1]), float(a[ok[-1]])) if ok.size else (None, None)


def sizes_text(sizes):
    """Layer sizes with repeats folded: 16-(128 x19)-4."""
    out, i = [], 0
    while i < len(sizes):
        j = i
        while j + 1 < len(sizes) and sizes[j + 1] == sizes[i]:
            j += 1
        out.append(str(sizes[i]) if j - i < 2 else "(%d x%d)" % (sizes[i], j - i + 1))
        if 0 < j - i < 2:
            out.extend(str(sizes[i]) for _ in range(j - i))
        i = j + 1
    return "-".join(out)


def header_rows(run):
    ck, cfg = run.ck, run.ck.config
    sizes = [ck.n_inputs] + [lay.weight.shape[0] for lay in ck.layers]
    hidden = ck.layers[:-1] or ck.layers
    model = "%s; %s; init %s; %s output" % (sizes_text(sizes), ", ".join(sorted({l.activation for l in hidden})),
        ", ".join(sorted({l.init for l in ck.layers})), ck.output)
    extras = [n for n in sorted({l.norm for l in ck.layers}) if n != "none"]
    if extras:
        model += "; %s norm" % "/".join(extras)
    if ck.residual:
        model += "; residual blocks of %d" % ck.residual
    syn = cfg.get("data.synthetic", "none")
    data = ("synthetic %s" % syn) if syn != "none" else cfg.get("data.train", "?")
    if cfg.get("data.test"):
        data += "; test %s" % cfg["data.test"]
    if cfg.get("data.validation_fraction", "0") not in ("0", "0.0", ""):
        data += "; validation fraction %s" % cfg["data.validation_fraction"]
    h = ck.history
    i, loss = last_finite(h["loss"])
    rows = [("file", "%s (format %d%s)" % (ck.path, ck.format_version,
                                           ", gradscope " + run.attrs["gradscope_version"]
                                           if "gradscope_version" in run.attrs else "")),
            ("written", run.attrs.get("created", "-")),
            ("model", model),
            ("data", data),
            ("ranks", "%d (global batch %s)" % (ck.n_ranks, cfg.get("train.batch_size", "?"))),
            ("optimizer", "%s, lr %s%s" % (ck.optimizer, cfg.get("optimizer.lr", "?"),
                                           ", schedule " + cfg["optimizer.schedule"]
                                           if cfg.get("optimizer.schedule", "none") != "none" else "")),
            ("steps", "%d (epoch %d, batch %d of it next); %d statistics records"
             % (ck.step, ck.epoch, ck.batch_in_epoch, run.n_records)),
            ("final training loss", "-" if i is None else "%s (step %d)" % (fmt(loss), i))]
    for key, label in (("eval_accuracy", run.eval_label), ("eval_validation_accuracy", "validation")):
        j, acc = last_finite(h[key])
        if j is not None:
            rows.append(("final %s accuracy" % label, "%.4f (step %d, loss %s)"
                         % (acc, int(h["eval_step"][j]), fmt(h[key.replace("accuracy", "loss")][j]))))
    if run.ck.layers and h["verdict"]:
        bad = ["%d %s" % (l, v) for l, v in enumerate(h["verdict"]) if v not in ("healthy", "")]
        rows.append(("verdicts at the last record", ", ".join(bad) if bad else "every layer healthy"))
    return rows


def table(head, rows):
    out = ["<table>", "<tr>" + "".join("<th>%s</th>" % E(h) for h in head) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join("<td>%s</td>" % c for c in r) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def sets_html(sets):
    return "<code>--set %s</code>" % E(" ".join(sets)) if sets else "-"


def doctor_html(run):
    """The doctor's findings: symptoms, the problem and its cause, the
    remedies, the repairs made (from its JSON, or the file's repairs)."""
    d, out = run.doctor, []
    if d is not None:
        if d.get("problem"):
            out.append('<p class="problem"><b>problem: %s</b><br>cause: %s</p>'
                       % (E(str(d["problem"])), E(str(d.get("cause") or "-"))))
        else:
            out.append('<p class="ok">no problem found</p>')
        if d.get("symptoms"):
            rows = [(E(s.get("name", "?")), E(", ".join(str(x) for x in s.get("layers", [])) or "-"),
                     E(str(s.get("first_step", "-"))),
                     "yes, step %s" % E(str(s.get("problem_step", "?"))) if s.get("problem") else "no",
                     E(s.get("evidence", ""))) for s in d["symptoms"]]
            out.append("<h3>symptoms</h3>" + table(("symptom", "layers", "first step", "the problem", "evidence"), rows))
        if d.get("remedies"):
            out.append("<h3>remedies, most likely first</h3><ol>" +
                       "".join("<li>%s: %s</li>" % (sets_html(m.get("set", [])), E(m.get("why", "")))
                               for m in d["remedies"]) + "</ol>")
        repairs = d.get("repairs", [])
    else:
        repairs = run.repairs
    if repairs:
        rows = [(E(str(r.get("step"))), E(r.get("symptom", "")), E(r.get("evidence", "")), sets_html(r.get("set", [])),
                 "re-initialized from the seed" if r.get("resumed_at") == 0 else "step %s" % E(str(r.get("resumed_at"))))
                for r in repairs]
        out.append("<h3>repairs made</h3>" + table(("step", "symptom", "evidence", "remedy", "went on from"), rows))
    elif d is not None:
        out.append("<p>no repair made</p>")
    return "\n".join(out) if out else "<p>the doctor's findings are not available (see the notes)</p>"


FIGURES = [  # (section, figure id, chart function, caption)
    ("training", "fig-loss", charts.loss_chart,
     "Training loss of every step (faint) and its running mean, with the evaluations' losses."),
    ("training", "fig-accuracy", charts.accuracy_chart,
     "Training accuracy (running mean over steps) and the evaluations' accuracy."),
    ("training", "fig-lr", charts.lr_chart, "Learning rate of every step."),
    ("training", "fig-throughput", charts.throughput_chart, "Samples per second, from metrics.jsonl."),
    ("gradients", "fig-grad-norm", charts.grad_norm_chart,
     "Each layer's weight-gradient norm \u2016dW\u2016 at every statistics record, log colour scale: vanishing "
     "gradients are a dark band at the bottom layers, exploding ones a bright band."),
    ("gradients", "fig-grad-hist", lambda r: charts.histogram_chart(r, "grad_hist", "gradient entries"),
     "Distribution of |dW| per layer, merged over all ranks: binned by powers of two, colour the fraction of "
     "the layer's entries in the bin (log scale)."),
    ("gradients", "fig-update-ratio", charts.update_ratio_chart,
     "Update ratio \u2016\u0394W\u2016/\u2016W\u2016 per layer: about 1e-3 is the usual healthy pace; 1e-6 "
     "is frozen, 1e-1 too fast."),
    ("activations", "fig-preact-hist", lambda r: charts.histogram_chart(r, "preact_hist", "pre-activations"),
     "Distribution of |z|, the activation's input, per layer: sigmoid and tanh saturate above about 2^2."),
    ("activations", "fig-activations", charts.activation_chart, "Mean and standard deviation of each layer's output."),
    ("activations", "fig-dead-saturated", charts.dead_saturated_chart,
     "Fraction of dead units (relu: zero for the whole batch) and of saturated outputs (sigmoid, tanh)."),
    ("diagnosis", "fig-verdicts", charts.verdict_chart,
     "Each layer's verdict at every statistics record (docs/statistics.md gives the rules)."),
]
SECTIONS = [("training", "Training"), ("gradients", "Gradients"), ("activations", "Activations"),
            ("diagnosis", "Diagnosis")]


def figure_html(run, fid, fn, caption):
    try:
        svg, notes = fn(run)
    except Exception as e:  # one chart that cannot be drawn must not cost the others
        svg, notes = None, ["this chart could not be drawn: %s: %s" % (type(e).__name__, e)]
        run.notes.append("%s: %s: %s" % (fid, type(e).__name__, e))
    if svg is None and not notes:
        return ""          # an optional chart with nothing to show (samples/s without metrics.jsonl)
    body = svg if svg is not None else '<p class="note">%s</p>' % E("; ".join(notes))
    cap = caption + ("" if svg is None or not notes else " " + "; ".join(notes).capitalize() + ".")
    return '<figure id="%s">\n%s\n<figcaption>%s</figcaption>\n</figure>' % (fid, body, E(cap))


def render(run):
    parts = []
    for sec, title in SECTIONS:
        figs = [figure_html(run, fid, fn, cap) for s, fid, fn, cap in FIGURES if s == sec]
        if sec == "diagnosis":
            figs.append('<section id="doctor">\n<h3>the doctor</h3>\n%s\n</section>' % doctor_html(run))
        parts.append('<section id="%s">\n<h2>%s</h2>\n%s\n</section>' % (sec, title, "\n".join(f for f in figs if f)))
    facts = "\n".join("<tr><th>%s</th><td>%s</td></tr>" % (E(k), E(v)) for k, v in header_rows(run))
    notes = ""
    if run.notes:
        notes = '<section id="notes"><ul class="note">%s</ul></section>' % "".join("<li>%s</li>" % E(n) for n in run.notes)
    name = os.path.basename(os.path.dirname(os.path.abspath(run.ck.path))) or run.ck.path
    return """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gradscope report">
<title>gradscope report: %s</title>
<style>%s</style>
</head>
<body>
<header id="summary">
<h1>gradscope report: %s</h1>
<table class="facts">
%s
</table>
</header>
%s
%s
<footer><p style="font-size:0.8em;color:#777">made by gradscope report at %s</p></footer>
</body>
</html>
""" % (E(name), CSS, E(name), facts, notes, "\n".join(parts),
       datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    ap.add_argument("run", metavar="RUN_DIR|CHECKPOINT",
                    help="a run directory (its newest checkpoint, or incident record) or a checkpoint file")
    ap.add_argument("-o", "--output", help="HTML file to write (default: RUN_DIR/report.html, or CHECKPOINT with .html)")
    ap.add_argument("--gradscope", metavar="PATH", help="the gradscope binary that runs the doctor")
    a = ap.parse_args(argv)
    notes = []
    try:
        ck = pick(a.run, notes)
    except gc.CheckpointError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 4
    out = a.output or (os.path.join(a.run, "report.html") if os.path.isdir(a.run)
                       else os.path.splitext(a.run)[0] + ".html")
    # written to OUT.tmp, renamed when complete: a browser never shows half a
    # page; opened first, so an unwritable output fails before any work
    tmp = out + ".tmp"
    try:
        f = open(tmp, "w", encoding="utf-8")
    except OSError as e:
        print("%s: cannot write %s: %s" % (PROG, out, e.strerror or e), file=sys.stderr)
        return 1
    done = False
    try:
        run_dir = a.run if os.path.isdir(a.run) else os.path.dirname(os.path.abspath(a.run))
        run = Run(ck, run_dir, notes)
        run_doctor(run, find_gradscope(a.gradscope))
        page = render(run)
        for n in run.notes:
            warn(n)
        try:
            f.write(page)
            f.close()
            os.replace(tmp, out)
            done = True
        except OSError as e:
            print("%s: cannot write %s: %s" % (PROG, out, e.strerror or e), file=sys.stderr)
            return 1
    finally:
        if not done:
            f.close()
            try:
                os.unlink(tmp)
            except OSError:
                pass
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
