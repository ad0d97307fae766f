"""`fabscore score`: score files, folders and data sets; one record per input.

Every input gets exactly one record (a score, an abstention with its reason,
or an error with its reason), written and flushed as soon as it is made, so
a killed run loses at most the line being written and `--resume` carries on.
Exit codes: 0 something was scored (or everything was already done),
1 every input failed (or the HTML report could not be written), 2 usage error,
130 interrupted.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import IO, Callable

from .reading import DEFAULT_MAX_BYTES, Input, iter_inputs

PROG = "fabscore"
FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("path", "id", "score", "label", "threshold", "target_fpr", "n_words", "reason",
               "n_sentences", "n_flagged", "model", "model_sha256", "error")
_SURROGATE = re.compile("[\ud800-\udfff]")


class UsageError(Exception):
    """A problem with the command line or its files: exit 2 with the message."""


# ---------------------------------------------------------------- records
def error_record(inp: Input, error: str, threshold: float, fpr: float, model: dict) -> dict:
    return {"path": inp.path, "id": inp.id, "score": None, "label": "error", "threshold": threshold,
            "target_fpr": fpr, "n_words": None, "reason": None, "sentences": [], "model": model, "error": error}


def score_record(inp: Input, result: dict, model: dict) -> dict:
    keys = ("score", "label", "threshold", "target_fpr", "n_words", "reason", "sentences")
    return {"path": inp.path, "id": inp.id, **{k: result[k] for k in keys}, "model": model, "error": None}


def csv_row(rec: dict) -> list[str]:
    """One physical line per record: newlines in fields become spaces, so a
    partial last line is all a kill can leave behind (as for JSONL)."""
    sentences = rec.get("sentences") or []
    model = rec.get("model") or {}
    values = [rec["path"], rec["id"], rec["score"], rec["label"], rec["threshold"], rec["target_fpr"],
              rec["n_words"], rec["reason"], len(sentences), sum(bool(s.get("flagged")) for s in sentences),
              model.get("name"), model.get("sha256"), rec["error"]]
    out = []
    for v in values:
        s = "" if v is None else str(v)
        out.append(_SURROGATE.sub("\ufffd", re.sub(r"[\r\n]+", " ", s)))
    return out


def record_from_csv(row: dict) -> dict:
    """A CSV row back as a record (without sentences), for the HTML report."""
    def num(v: str, cast: Callable = float):
        return None if v in ("", None) else cast(v)

    return {"path": row["path"], "id": row["id"], "score": num(row["score"]), "label": row["label"],
            "threshold": num(row["threshold"]), "target_fpr": num(row["target_fpr"]),
            "n_words": num(row["n_words"], int), "reason": row["reason"] or None, "sentences": [],
            "model": {"name": row["model"], "sha256": row["model_sha256"]}, "error": row["error"] or None}


# ---------------------------------------------------------------- output
def _truncate_partial(path: str) -> bytes:
    """The file's complete lines; a partial last line (a killed write) is cut off the file."""
    with open(path, "r+b") as f:
        data = f.read()
        cut = data.rfind(b"\n") + 1
        if cut < len(data):
            f.truncate(cut)
            print(f"{PROG}: {path}: dropped a partial last line ({len(data) - cut} bytes) before resuming",
                  file=sys.stderr)
    return data[:cut]


def read_existing(path: str, fmt: str) -> list[dict]:
    """Records already in an output file, for --resume; raises UsageError if it is not ours."""
    try:
        data = _truncate_partial(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot resume from {path}: {e}") from e
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(data)))
        if not rows:
            return []
        if tuple(rows[0]) != CSV_COLUMNS:
            raise UsageError(f"cannot resume: {path} is not fabscore CSV output (header {','.join(rows[0])!r})")
        try:
            return [record_from_csv(dict(zip(CSV_COLUMNS, r))) for r in rows[1:] if len(r) == len(CSV_COLUMNS)]
        except ValueError as e:
            raise UsageError(f"cannot resume: {path} has a row that is not a fabscore record ({e})") from e
    records = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise UsageError(f"cannot resume: line {n} of {path} is not a JSON record ({e})") from e
        if not isinstance(rec, dict) or "id" not in rec:
            raise UsageError(f"cannot resume: line {n} of {path} is not a fabscore record")
        records.append(rec)
    return records


class Writer:
    """Writes records as JSONL or CSV, flushing each one."""

    def __init__(self, stream: IO[str], fmt: str, header: bool):
        self.stream, self.fmt = stream, fmt
        self.csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        if self.csv is not None and header:
            self.csv.writerow(CSV_COLUMNS)
            stream.flush()

    def write(self, rec: dict) -> None:
        if self.csv is not None:
            self.csv.writerow(csv_row(rec))
        else:
            line = json.dumps(rec, ensure_ascii=False)
            if _SURROGATE.search(line):  # lone surrogates from a JSONL input: keep them escaped
                line = json.dumps(rec)
            self.stream.write(line + "\n")
        self.stream.flush()


# ---------------------------------------------------------------- summary
@dataclass
class Summary:
    scored: int = 0
    fabricated: int = 0
    human: int = 0
    abstained: int = 0
    failed: int = 0
    skipped: int = 0
    started: float = 0.0

    def add(self, rec: dict) -> None:
        label = rec["label"]
        if label == "error":
            self.failed += 1
        elif label == "abstain":
            self.abstained += 1
        else:
            self.scored += 1
            self.fabricated += label == "fabricated"
            self.human += label == "human"

    @property
    def processed(self) -> int:
        return self.scored + self.abstained + self.failed

    def line(self) -> str:
        secs = max(time.monotonic() - self.started, 1e-9)
        return (f"{PROG}: scored={self.scored} fabricated={self.fabricated} human={self.human} "
                f"abstained={self.abstained} failed={self.failed} skipped={self.skipped} "
                f"seconds={secs:.1f} articles/s={self.processed / secs:.2f}")

    def exit_code(self) -> int:
        return 0 if self.scored + self.abstained + self.skipped else 1


# ---------------------------------------------------------------- the command
def _parse_fpr(value: str | float | None) -> float | None:
    if value is None:
        return None
    try:
        fpr = float(value)
    except (TypeError, ValueError):
        fpr = math.nan
    if not (0.0 < fpr < 1.0):
        raise UsageError(f"--fpr must be a false-positive rate between 0 and 1, got {value!r}")
    return fpr


def _load_detector(model: str | None, fpr: float | None):
    from .detector import Detector
    from .model_dir import load

    try:
        return Detector(load(model), fpr=fpr)
    except (ValueError, RuntimeError, OSError, KeyError) as e:  # ModelDirError is a ValueError
        raise UsageError(str(e)) from e


def _html_writer(report: str | None) -> Callable | None:
    if report is None:
        return None
    try:
        from .report import write_html
    except ImportError as e:
        raise UsageError(f"--html needs fabscore.report.write_html, which is not available ({e})") from e
    return write_html


def _open_output(args, fmt: str) -> tuple[IO[str], bool, list[dict]]:
    """(stream, write a CSV header?, records already there)."""
    if args.out is None:
        return sys.stdout, True, []
    if os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a directory")
    existing: list[dict] = []
    if args.resume and os.path.exists(args.out):
        existing = read_existing(args.out, fmt)
        header = fmt == "csv" and os.path.getsize(args.out) == 0
        mode = "a"
    else:
        header, mode = True, "w"
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        stream = open(args.out, mode, encoding="utf-8", newline="")
    except OSError as e:
        raise UsageError(f"cannot write {args.out}: {e.strerror or e}") from e
    return stream, header, existing


def _say(message: str, bar) -> None:
    if bar is not None:
        bar.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr, flush=True)


def _score(inp: Input, det) -> dict:
    """The record of one input; any failure while scoring it becomes its error."""
    model = det.model_id
    if inp.error is not None:
        return error_record(inp, inp.error, det.threshold, det.fpr, model)
    try:
        return score_record(inp, det.score_one(inp.text).as_dict(), model)
    except Exception as e:  # noqa: BLE001 - MemoryError, a featurizer bug: this input fails, the run goes on
        return error_record(inp, f"scoring failed: {type(e).__name__}: {e}", det.threshold, det.fpr, model)


def _engine(args: argparse.Namespace, det):
    """Local processes or Ray (fabscore.engines), from --engine, --workers, --address."""
    from .engines import EngineError, make_engine

    try:
        return make_engine(det, args.engine, args.workers, args.address)
    except EngineError as e:
        raise UsageError(str(e)) from e


def run_score(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before scoring started (while loading the model)
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    fpr = _parse_fpr(args.fpr)
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out FILE (the output to resume)")
    fmt = args.format or ("csv" if (args.out or "").lower().endswith(".csv") else "jsonl")
    if args.max_mb is not None and not args.max_mb > 0:
        raise UsageError(f"--max-mb must be positive, got {args.max_mb}")
    write_html = _html_writer(args.html)
    det = _load_detector(args.model, fpr)
    engine = _engine(args, det)
    stream, header, existing = _open_output(args, fmt)
    done = {str(r["id"]) for r in existing}
    if existing and any((r.get("model") or {}).get("sha256") not in (None, det.model_id["sha256"]) for r in existing):
        print(f"{PROG}: warning: {args.out} holds records of another model; they are kept as they are",
              file=sys.stderr)
    own = {os.path.realpath(p) for p in (args.out, args.html) if p}
    records: list[dict] = list(existing) if write_html else []
    summary = Summary(started=started)
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit="article", file=sys.stderr, dynamic_ncols=True)
    writer = Writer(stream, fmt, header)
    max_bytes = int(args.max_mb * 1024 * 1024) if args.max_mb else DEFAULT_MAX_BYTES
    interrupted = False
    try:
        def pending():
            for inp in iter_inputs(args.paths, text_field=args.text_field, max_bytes=max_bytes, skip_ids=done):
                if os.path.realpath(inp.path) in own:
                    continue  # our own output inside a folder being scored
                if inp.skipped:
                    summary.skipped += 1
                    continue
                yield inp

        for rec in engine.records(pending()):  # completion order; the engine scores, this writes
            writer.write(rec)
            summary.add(rec)
            if rec["error"] is not None:
                _say(f"{PROG}: {rec['id']}: {rec['error']}", bar)
            if write_html:
                records.append(rec)
            if bar is not None:
                bar.update()
    except KeyboardInterrupt:
        interrupted = True
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # silence the flush at exit
        return 1
    finally:
        engine.close()  # stops worker processes (Ctrl-C) before the output is closed
        if bar is not None:
            bar.close()
        if stream is not sys.stdout:
            stream.close()
    if interrupted:
        print(f"{PROG}: interrupted" + (f"; rerun with --resume to continue {args.out}" if args.out else ""),
              file=sys.stderr)
    print(summary.line(), file=sys.stderr, flush=True)
    if interrupted:
        return 130
    if summary.processed + summary.skipped == 0:
        print(f"{PROG}: error: nothing to score in {', '.join(args.paths)}", file=sys.stderr)
        return 1
    if write_html:
        try:
            write_html(args.html, records, det.model_id)
        except Exception as e:  # noqa: BLE001 - the records are written; say why the report is not
            print(f"{PROG}: error: cannot write the HTML report {args.html}: {type(e).__name__}: {e}",
                  file=sys.stderr)
            return 1
        print(f"{PROG}: report written to {args.html}", file=sys.stderr)
    return summary.exit_code()


def add_score_parser(subparsers) -> argparse.ArgumentParser:
    """Register `score` on an argparse subparsers object (func=run_score)."""
    p = subparsers.add_parser(
        "score", help="score articles: files, folders, .jsonl/.csv data sets",
        description="Score each article (and its sentences) for likely machine-written content. "
                    "Every input gets one record: a score, an abstention with its reason, or an error.")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="a file (.txt .md .html), a folder (walked recursively), or a .jsonl/.csv data set")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="model directory, or the name of a shipped model (default: the shipped default)")
    p.add_argument("--out", default=None, metavar="FILE", help="output file (default: JSONL on stdout)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="jsonl (default) or csv (one row per article); inferred from --out's suffix")
    p.add_argument("--fpr", default=None, metavar="RATE",
                   help="target false-positive rate whose stored threshold labels articles (default: the model's)")
    p.add_argument("--resume", action="store_true",
                   help="keep the records already in --out and score only the inputs missing there")
    p.add_argument("--text-field", default="text", metavar="F", help="text field of .jsonl/.csv rows (default: text)")
    p.add_argument("--html", default=None, metavar="REPORT", help="also write an HTML report here")
    p.add_argument("--max-mb", type=float, default=None, metavar="MB",
                   help=f"refuse files larger than this (default: {DEFAULT_MAX_BYTES // 2**20})")
    from .engines import add_engine_arguments

    add_engine_arguments(p)
    p.set_defaults(func=run_score)
    return p


def _unavailable(subparsers, name: str, why: str) -> None:
    """A subcommand whose extra is not installed: listed, and says how to install it."""
    def run(_args) -> int:
        print(f"{PROG}: error: {why}", file=sys.stderr)
        return 2

    p = subparsers.add_parser(name, help=f"(not installed) {why}", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    """`score` from this package; `train`, `evaluate` (and any other subcommand) from the
    `fabscore.commands` entry points, so scoring never imports the training code."""
    from importlib.metadata import entry_points

    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description="Score news articles, and every sentence in them, for likely machine-written "
                               "or fabricated content.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_score_parser(sub)
    for ep in sorted(entry_points(group="fabscore.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as e:  # the extra that the command needs is missing
            _unavailable(sub, ep.name, str(e))
            continue
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
