"""Read a gradscope metrics stream, RUN_DIR/metrics.jsonl (docs/metrics.md),
the way every reader must: whole lines only, records of this schema only,
and each "resume" record applied.

    import gradscope_metrics as gm
    s = gm.read("runs/iris")               # a run directory, or the .jsonl file
    s.records                              # every record in force, in order
    s.of("stats")                          # those of one kind
    s.skipped                              # lines that were not records of this schema

Standard library only. A path with no stream raises StreamError.
"""
import json
import os

SCHEMA = 1
FILE = "metrics.jsonl"


class StreamError(Exception):
    """A path that holds no readable metrics stream."""


class Stream:
    def __init__(self, path):
        self.path = path
        self.records = []      # in force: a resume record at step S dropped the earlier ones after S
        self.dropped = 0       # records a resume record dropped
        self.skipped = []      # (line number, why) of lines that are not records of this schema
        self.partial = False   # the last line has no newline yet (being written, or its writer was killed)

    def of(self, kind):
        return [r for r in self.records if r["kind"] == kind]

    def last(self, kind):
        found = self.of(kind)
        return found[-1] if found else None


def path_of(path):
    return os.path.join(path, FILE) if os.path.isdir(path) else path


def read(path):
    """The stream at path (a run directory or a metrics.jsonl) as it is now."""
    p = path_of(path)
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as e:
        raise StreamError(f"{p}: {e.strerror}") from None
    s = Stream(p)
    lines = data.split(b"\n")
    s.partial = lines[-1] != b""
    for number, raw in enumerate(lines[:-1], start=1):   # (the last is unfinished, or empty)
        try:
            rec = json.loads(raw)
        except ValueError as e:
            s.skipped.append((number, f"not JSON: {e}"))
            continue
        if not isinstance(rec, dict) or "kind" not in rec:
            s.skipped.append((number, "not a record"))
            continue
        if rec.get("schema") != SCHEMA:
            s.skipped.append((number, f"schema {rec.get('schema')}, this reader reads {SCHEMA}"))
            continue
        if rec["kind"] == "resume":
            kept = [r for r in s.records if r["step"] <= rec["step"]]
            s.dropped += len(s.records) - len(kept)
            s.records = kept
        s.records.append(rec)
    return s
