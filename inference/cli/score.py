"""`fabscore score`: score files, folders, data sets and stdin; one record per input.

Every input gets exactly one record (a score, an abstention with its reason,
or an error with its reason), written and flushed as soon as it is made, so
a killed run loses at most the line being written and `--resume` carries on.
Exit codes: 0 something was scored (or everything was already done),
1 every input failed, or any failed with --strict, or the HTML report could not
be written, 2 usage error (nothing scored), 130 interrupted.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from fabscore.cli.evidence import (
    add_evidence_argument,
    claims_writer,
    evidence_check,
)
from fabscore.cli.loading import load_detector
from fabscore.io.output import (
    FORMATS,
    PROG,
    UsageError,
    Writer,
    check_resumable,
    csv_header,
    read_existing,
    rewrite,
    table_legend,
)
from fabscore.io.reading import DATASET_EXTS, DEFAULT_MAX_BYTES, MB, STDIN, dataset_fields, iter_inputs

# An input this long is probably many articles in one file: scored as one, but the user is told.
LONG_INPUT_WORDS = 20_000


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

    def exit_code(self, strict: bool = False) -> int:
        if strict and self.failed:
            return 1
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


def _html_writer(report: str | None) -> Callable | None:
    if report is None:
        return None
    try:
        from fabscore.io.report import write_html
    except ImportError as e:
        raise UsageError(f"--html needs fabscore.io.report.write_html, which is not available ({e})") from e
    return write_html


def _check_datasets(args) -> None:
    """A data set whose rows lack --text-field (or --id-field, or a --keep-fields name)
    stops the run before anything is scored, listing the fields there are."""
    for p in args.paths:
        if os.path.splitext(p)[1].lower() not in DATASET_EXTS or not os.path.isfile(p):
            continue
        try:
            have = dataset_fields(p)
        except (OSError, csv.Error) as e:
            raise UsageError(f"{p}: cannot read the data set ({e})") from e
        wanted = [("--text-field", args.text_field)] + ([("--id-field", args.id_field)] if args.id_field else [])
        wanted += [("--keep-fields", k) for k in args.keep_fields]
        for flag, name in wanted:
            if name not in have:
                raise UsageError(f"{p}: no row has the field {name!r} ({flag}); its fields are: "
                                 f"{', '.join(have) or 'none (no readable row)'}")


def _output_format(args) -> str:
    if args.format:
        return args.format
    if args.out is None:
        return "table" if sys.stdout.isatty() else "jsonl"  # a person reads a table; a pipe gets JSONL
    return "csv" if args.out.lower().endswith(".csv") else "jsonl"


def _holds_output(path: str | None) -> bool:
    return path is not None and os.path.isfile(path) and os.path.getsize(path) > 0


def _open_output(args, fmt: str, det, keep: tuple[str, ...]) -> tuple[IO[str], bool, list[dict]]:
    """(stream, write a CSV header?, records already there and kept)."""
    if args.out is None:
        return sys.stdout, True, []
    if os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a directory")
    exists = _holds_output(args.out)
    kept: list[tuple[dict, str]] = []
    if args.resume and exists:
        found = read_existing(args.out, fmt, csv_header(keep))
        check_resumable([r for r, _ in found], args.out, det, args.text_field)
        kept = [(r, line) for r, line in found if r.get("label") != "error"]  # errors are tried again
        if len(kept) < len(found):
            with open(args.out, encoding="utf-8", newline="") as f:
                head = [f.readline()] if fmt == "csv" else []  # the header exactly as it was written
            rewrite(args.out, head + [line for _, line in kept])
            print(f"{PROG}: {args.out}: retrying {len(found) - len(kept)} input(s) that failed before",
                  file=sys.stderr)
    mode = "a" if args.resume else "w"
    header = fmt == "csv" and not (args.resume and exists)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        stream = open(args.out, mode, encoding="utf-8", newline="")
    except OSError as e:
        raise UsageError(f"cannot write {args.out}: {e.strerror or e}") from e
    return stream, header, [r for r, _ in kept]


class InputOrder:
    """Records back in the order of their inputs: each is held until every earlier one is in."""

    def __init__(self):
        self.waiting: dict[int, dict] = {}
        self.next = 0

    def add(self, at: int, rec: dict) -> list[dict]:
        """The records that can be written now that the one at position `at` has come."""
        self.waiting[at] = rec
        out = []
        while self.next in self.waiting:
            out.append(self.waiting.pop(self.next))
            self.next += 1
        return out

    def rest(self) -> list[dict]:
        """Whatever is still held, in input order (an interrupted run)."""
        out = [self.waiting[k] for k in sorted(self.waiting)]
        self.waiting.clear()
        return out


def _say(message: str, bar, file=None) -> None:
    file = file or sys.stderr
    if bar is not None:
        bar.write(message, file=file)
    else:
        print(message, file=file, flush=True)


def _engine(args: argparse.Namespace, det, keep: tuple[str, ...], check):
    """Local processes or Ray (fabscore.engines), from --engine, --workers, --address."""
    from fabscore.engines import EngineError, make_engine

    try:
        return make_engine(det, args.engine, args.workers, args.address, keep=keep, check=check)
    except EngineError as e:
        raise UsageError(str(e)) from e


class CtrlC:
    """Ctrl-C raises KeyboardInterrupt as usual, and is also remembered.

    Python raises it wherever the main thread happens to be; when that is a finalizer
    (a retired worker's queue or pipe being collected) the exception is printed and
    dropped, and the run would go on as if no key had been pressed. The record loop
    checks `fired` after every record, so a Ctrl-C always stops the run there."""

    def __init__(self) -> None:
        self.fired, self._old = False, None

    def _handler(self, signum, frame) -> None:
        self.fired = True
        raise KeyboardInterrupt

    def __enter__(self) -> CtrlC:
        try:
            self._old = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: leave Python's handling alone
            self._old = None
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def run_score(args: argparse.Namespace) -> int:
    try:
        with CtrlC() as ctrl_c:
            return _run(args, ctrl_c)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before scoring started (while loading the model)
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _check_args(args) -> None:
    if not args.paths:
        hint = (f" (--evidence takes one reference per use: {' '.join(args.evidence)} was read as evidence; "
                "give the articles to score as PATH, and repeat --evidence for each reference)"
                if getattr(args, "evidence", None) else "")
        raise UsageError(f"nothing to score: give at least one PATH{hint}")
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out FILE (the output to resume)")
    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite contradict each other: pick one")
    if _holds_output(args.out) and not (args.resume or args.overwrite):  # checked before loading the model
        raise UsageError(f"--out {args.out} already holds output: add --resume to continue it "
                         "or --overwrite to replace it")
    if args.format == "table" and args.resume:
        raise UsageError("--resume needs a jsonl or csv output, not a table")
    if args.max_mb is not None and not args.max_mb > 0:
        raise UsageError(f"--max-mb must be positive, got {args.max_mb:g}")
    if args.paths.count(STDIN) > 1:
        raise UsageError("standard input (-) can be read only once")
    args.keep_fields = tuple(k.strip() for k in (args.keep_fields or "").split(",") if k.strip())


def _run(args: argparse.Namespace, ctrl_c: CtrlC | None = None) -> int:
    started = time.monotonic()
    _check_args(args)
    fpr = _parse_fpr(args.fpr)
    fmt = _output_format(args)
    write_html = _html_writer(args.html)
    _check_datasets(args)
    det = load_detector(args.model, UsageError, fpr, args.device)
    det.progress = sys.stderr.isatty()  # a long text scored in this process shows its own progress
    keep = args.keep_fields if fmt == "csv" else ()
    check = evidence_check(getattr(args, "evidence", None), det, UsageError)  # evidence mode
    open_claims = claims_writer(args, UsageError)  # --claims-out: evidence mode's marked claims
    engine = _engine(args, det, keep, check)
    stream, header, existing = _open_output(args, fmt, det, keep)
    claims = open_claims(existing) if open_claims else None
    done = {str(r["id"]) for r in existing}
    own = {os.path.realpath(p) for p in (args.out, args.html) if p}
    records: list[dict] = list(existing) if write_html else []
    summary = Summary(started=started)
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        plain = all(os.path.isfile(p) and os.path.splitext(p)[1].lower() not in DATASET_EXTS for p in args.paths)
        bar = tqdm(unit="article", file=sys.stderr, dynamic_ncols=True, total=len(args.paths) if plain else None)
    echo = (lambda line: _say(line, bar, stream)) if fmt == "table" else None
    max_bytes = int(args.max_mb * MB) if args.max_mb else DEFAULT_MAX_BYTES
    interrupted = False
    legend = (table_legend(det.model_id, det.threshold, det.fpr, det.sentence_threshold, det.driver_threshold(det.fpr))
              if fmt == "table" else [])
    position: dict[str, int] = {}  # input id -> its place in the input, for the table's order
    in_order = InputOrder() if fmt == "table" else None
    try:
        writer = Writer(stream, fmt, header, keep, echo, legend, wide=args.wide)

        def pending():
            for inp in iter_inputs(args.paths, text_field=args.text_field, max_bytes=max_bytes, skip_ids=done,
                                   id_field=args.id_field or "id", keep_fields=args.keep_fields):
                if os.path.realpath(inp.path) in own:
                    continue  # our own output inside a folder being scored
                if inp.skipped:
                    summary.skipped += 1
                    continue
                words = len(inp.text.split()) if inp.text else 0
                if words > LONG_INPUT_WORDS:
                    _say(f"{PROG}: {inp.id}: {words:,} words, scored as one article; if it holds many articles, "
                         "give them as separate files or as rows of a .jsonl/.csv data set", bar)
                position[str(inp.id)] = len(position)
                yield inp

        for rec in engine.records(pending()):  # completion order; the engine scores, this writes
            for ready in (in_order.add(position[str(rec["id"])], rec) if in_order else (rec,)):
                writer.write(ready)  # a table is read top to bottom: it keeps the input's order
                if claims is not None:
                    claims.write(ready)
            summary.add(rec)
            if rec["error"] is not None:
                _say(f"{PROG}: {rec['id']}: {rec['error']}", bar)
            if write_html:
                records.append(rec)
            if bar is not None:
                bar.update()
            if ctrl_c is not None and ctrl_c.fired:
                raise KeyboardInterrupt  # pressed while Python could not raise it (see CtrlC)
    except KeyboardInterrupt:
        interrupted = True
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # silence the flush at exit
        return 1
    finally:
        engine.close()  # stops worker processes (Ctrl-C) before the output is closed
        for ready in (in_order.rest() if in_order else ()):  # what an interruption left waiting
            writer.write(ready)
            if claims is not None:
                claims.write(ready)
        if claims is not None:
            claims.close()
        if bar is not None:
            bar.close()
        if stream is not sys.stdout:
            stream.close()
    if interrupted:
        print(f"{PROG}: interrupted" + (f"; rerun with --resume to continue {args.out}" if args.out else ""),
              file=sys.stderr)
    print(summary.line(), file=sys.stderr, flush=True)
    if not interrupted and summary.processed + summary.skipped == 0:
        print(f"{PROG}: error: nothing to score in {', '.join(args.paths)}", file=sys.stderr)
        return 1
    if write_html and (records or not interrupted):  # an interrupted run still gets the report of what it did
        try:
            write_html(args.html, records, det.model_id)
        except Exception as e:  # noqa: BLE001 - the records are written; say why the report is not
            print(f"{PROG}: error: cannot write the HTML report {args.html}: {type(e).__name__}: {e}",
                  file=sys.stderr)
            return 130 if interrupted else 1
        print(f"{PROG}: report written to {args.html}" + (" (partial: the run was interrupted; --resume "
                                                             "rewrites it complete)" if interrupted else ""),
              file=sys.stderr)
    return 130 if interrupted else summary.exit_code(args.strict)


def add_score_parser(subparsers) -> argparse.ArgumentParser:
    """Register `score` on an argparse subparsers object (func=run_score)."""
    p = subparsers.add_parser(
        "score", help="score articles: files, folders, .jsonl/.csv data sets, - for stdin",
        description="Score each article (and its sentences) for likely machine-written content. "
                    "Every input gets one record: a score, an abstention with its reason, or an error. "
                    "Exit codes: 0 something was scored, 1 every input failed (or any, with --strict), "
                    "2 usage error, 130 interrupted.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="a file (.txt .md .html), a folder (walked recursively), a .jsonl/.csv data set, "
                        "or - (one article from standard input)")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="model directory, or a shipped model: default (SmolLM2 + style) or fast "
                        "(MiniLM + style) (default: default)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="output file (default: stdout: a table on a terminal, JSONL when piped)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="jsonl, csv (one row per article) or table (readable); default: from --out's suffix, "
                        "else table on a terminal and jsonl when piped")
    p.add_argument("--fpr", default=None, metavar="RATE",
                   help="target false-positive rate whose stored threshold labels articles (default: the "
                        "model's, 0.01; the shipped models store 0.001, 0.01 and 0.05)")
    p.add_argument("--resume", action="store_true",
                   help="keep the records already in --out and score only the inputs missing there or "
                        "that failed (refused if the model, --fpr or --text-field differ)")
    p.add_argument("--overwrite", action="store_true", help="replace an --out file that already holds output")
    p.add_argument("--strict", action="store_true", help="exit 1 when any input failed (default: 0 if "
                                                         "something was scored)")
    p.add_argument("--text-field", default="text", metavar="F", help="text field of .jsonl/.csv rows (default: text)")
    p.add_argument("--id-field", default=None, metavar="F",
                   help="id field of .jsonl/.csv rows (default: id; rows without one get path:line)")
    p.add_argument("--keep-fields", default="", metavar="A,B",
                   help="data-set fields copied into each record as fields: {A: ..., B: ...} (CSV: extra columns)")
    p.add_argument("--html", default=None, metavar="REPORT", help="also write an HTML report here")
    p.add_argument("--wide", action="store_true", help="table: show sentences and claims whole, not cut to a line")
    p.add_argument("--max-mb", type=float, default=None, metavar="MB",
                   help=f"refuse files larger than this many MB (1 MB = 1,000,000 bytes; "
                        f"default: {DEFAULT_MAX_BYTES // MB})")
    p.add_argument("--device", default=None, choices=("cpu", "cuda", "mps"),
                   help="where the backbones run (default: FABSCORE_DEVICE, else cpu)")
    add_evidence_argument(p)
    from fabscore.engines import add_engine_arguments

    add_engine_arguments(p)
    p.set_defaults(func=run_score)
    return p
