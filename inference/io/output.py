"""What `fabscore score` writes: JSONL, CSV or a readable table, one record per
line, flushed as it is made; and what it reads back from its own output to
resume (refusing a file that is not its own, or that another run wrote).
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable
from typing import IO

PROG = "fabscore"
FORMATS = ("jsonl", "csv", "table")
CSV_COLUMNS = ("path", "id", "score", "label", "threshold", "sentence_threshold", "target_fpr", "n_words", "reason",
               "n_sentences", "n_flagged", "text_field", "model", "model_sha256", "error")
_SURROGATE = re.compile("[\ud800-\udfff]")


class UsageError(Exception):
    """A problem with the command line or its files: exit 2 with the message."""


# ---------------------------------------------------------------- CSV rows
def _one_line(v: object) -> str:
    """One physical line per value: newlines become spaces, so a partial last
    line is all a kill can leave behind (as for JSONL)."""
    s = "" if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return _SURROGATE.sub("\ufffd", re.sub(r"[\r\n]+", " ", s))


def csv_header(keep: tuple[str, ...] = ()) -> tuple[str, ...]:
    """CSV_COLUMNS, then one column per --keep-fields name; a kept name that is also one of the
    record's own columns (label, say) is written as field.<name>, never as a second 'label'."""
    return CSV_COLUMNS + tuple(f"field.{k}" if k in CSV_COLUMNS else k for k in keep)


def csv_row(rec: dict, keep: tuple[str, ...] = ()) -> list[str]:
    """The record's CSV row: CSV_COLUMNS, then one column per --keep-fields name."""
    sentences = rec.get("sentences") or []
    model = rec.get("model") or {}
    values = [rec["path"], rec["id"], rec["score"], rec["label"], rec["threshold"], rec["sentence_threshold"],
              rec["target_fpr"], rec["n_words"], rec["reason"], len(sentences),
              sum(bool(s.get("flagged")) for s in sentences), rec.get("text_field"), model.get("name"),
              model.get("sha256"), rec["error"]]
    fields = rec.get("fields") or {}
    return [_one_line(v) for v in values] + [_one_line(fields.get(k)) for k in keep]


def record_from_csv(row: dict) -> dict:
    """A CSV row back as a record (without sentences), for the HTML report and --resume."""
    def num(v: str, cast: Callable = float):
        return None if v in ("", None) else cast(v)

    return {"path": row["path"], "id": row["id"], "score": num(row["score"]), "label": row["label"],
            "threshold": num(row["threshold"]), "sentence_threshold": num(row["sentence_threshold"]),
            "target_fpr": num(row["target_fpr"]), "n_words": num(row["n_words"], int), "reason": row["reason"] or None,
            "sentences": [], "text_field": row["text_field"] or None,
            "model": {"name": row["model"], "sha256": row["model_sha256"]}, "error": row["error"] or None}


# ---------------------------------------------------------------- existing output (--resume)
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


def read_existing(path: str, fmt: str, header: tuple[str, ...] | None = None) -> list[tuple[dict, str]]:
    """(record, its line) for each record already in an output file, for --resume;
    raises UsageError if the file is not fabscore output of this shape (header: the CSV columns
    expected, csv_header() by default)."""
    header = csv_header() if header is None else header
    try:
        data = _truncate_partial(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot resume from {path}: {e}") from e
    lines = data.splitlines(keepends=True)
    if fmt == "csv":
        if not lines:
            return []
        first = next(csv.reader([lines[0]]))
        if tuple(first) != header:
            raise UsageError(f"cannot resume: {path} is not fabscore CSV output with these columns "
                             f"(header {','.join(first)!r}, expected {','.join(header)!r})")
        try:
            return [(record_from_csv(dict(zip(header, r))), line) for line in lines[1:]
                    for r in csv.reader([line]) if len(r) == len(header)]
        except ValueError as e:
            raise UsageError(f"cannot resume: {path} has a row that is not a fabscore record ({e})") from e
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise UsageError(f"cannot resume: line {n} of {path} is not a JSON record ({e})") from e
        if not isinstance(rec, dict) or "id" not in rec:
            raise UsageError(f"cannot resume: line {n} of {path} is not a fabscore record")
        records.append((rec, line))
    return records


def check_resumable(records: list[dict], out: str, det, text_field: str) -> None:
    """Refuse to mix runs: the model, the target FPR and the text field must be the ones already there."""
    sha = det.model_id["sha256"]
    for rec in records:
        theirs = (rec.get("model") or {}).get("sha256")
        if theirs and theirs != sha:
            raise UsageError(f"cannot resume {out}: its records are from model {theirs[:12]}, this run uses "
                             f"{det.model_id['name']} {sha[:12]} (same --model as before, or --overwrite)")
        fpr = rec.get("target_fpr")
        if fpr is not None and not math.isclose(float(fpr), det.fpr, rel_tol=1e-9, abs_tol=1e-12):
            raise UsageError(f"cannot resume {out}: its records use target FPR {fpr:g}, this run {det.fpr:g} "
                             "(same --fpr as before, or --overwrite)")
        field = rec.get("text_field")
        if field is not None and field != text_field:
            raise UsageError(f"cannot resume {out}: its records read the text field {field!r}, this run "
                             f"{text_field!r} (same --text-field as before, or --overwrite)")


def rewrite(path: str, lines: list[str]) -> None:
    """Replace a file with these lines atomically (a kill leaves the old file or the new one)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fabscore-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.writelines(lines)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---------------------------------------------------------------- writers
TABLE_TEXT_CHARS = 100  # a sentence is cut to this many characters in the table


def _where(path, iid) -> str:
    return str(path) if path == iid or iid is None else f"{path} [{iid}]"


def _cut(text: str, n: int | None = TABLE_TEXT_CHARS) -> str:
    """One line of at most n characters (None: the whole text, for --wide)."""
    text = " ".join(text.split())
    return text if n is None or len(text) <= n else text[:n - 3].rstrip() + "..."


def _evidence_lines(rec: dict, width: int | None = TABLE_TEXT_CHARS) -> list[str]:
    """Evidence mode in the table: the article's counts, then every sentence the evidence does
    not back (unsupported, lowest support first, then no_evidence), each with its support, the
    claims not found, those found only away from the nearest evidence sentence in a doubted
    sentence, and its best evidence sentence's source and similarity."""
    summary = rec.get("evidence_summary")
    if not summary:
        return []
    sentences = rec.get("sentences") or []
    n_sup = sum(s.get("status") == "supported" for s in sentences)
    low = summary["min_support"]
    lines = [f"{'':11}evidence: {summary['n_sentences_checked']} sentences checked, {n_sup} supported, "
             f"{summary['n_unsupported']} unsupported, {summary['n_no_evidence']} no_evidence"
             + ("" if low is None else f", min support {low:.3f}")]
    rank = {"unsupported": 0, "no_evidence": 1}
    shown = sorted((s for s in sentences if s.get("status") in rank),
                   key=lambda s: (rank[s["status"]], s["support"] if s["support"] is not None else 0.0, s["start"]))
    for s in shown:
        support = "-" if s["support"] is None else f"{s['support']:.3f}"
        lines.append(f"{'':11}{s['status']:<11} {support:>5}  {_cut(s['text'], width)}")
        claims = s.get("claims") or []
        missing = [c["text"] for c in claims if c.get("supported") is False and c.get("found") is False]
        elsewhere = [c["text"] for c in claims if c.get("supported") is False and c.get("found")]
        unchecked = [c["text"] for c in claims if c.get("supported") is None]
        if missing:
            lines.append(f"{'':30}not found: {_cut('; '.join(missing), width)}")
        if elsewhere:
            lines.append(f"{'':30}not in the nearest sentence: {_cut('; '.join(elsewhere), width)}")
        if unchecked:
            lines.append(f"{'':30}unchecked: {_cut('; '.join(unchecked), width)}")
        if s.get("evidence"):
            ev = s["evidence"][0]
            lines.append(f"{'':30}nearest ({ev['similarity']:.2f}): {_where(ev['path'], ev['id'])} "
                         f"{ev['start']}-{ev['end']} \"{_cut(ev['text'], 60)}\"")
    return lines


def _table_line(rec: dict, width: int | None = TABLE_TEXT_CHARS) -> str:
    """One line per article; in evidence mode, its evidence counts and unbacked sentences below it."""
    sentences = rec.get("sentences") or []
    score = "" if rec["score"] is None else f"{rec['score']:.3f}"
    flagged = f"{sum(bool(s.get('flagged')) for s in sentences)}/{len(sentences)}" if sentences else ""
    why = rec["error"] or rec["reason"] or ""
    line = f"{rec['label']:<10} {score:>6} {flagged:>7}  {_where(rec['path'], rec['id'])}"
    line += f"  ({why})" if why else ""
    return "\n".join([line, *_evidence_lines(rec, width)])


TABLE_HEADER = f"{'label':<10} {'score':>6} {'flagged':>7}  path"


def table_legend(model: dict, threshold: float, target_fpr: float, sentence_threshold: float | None) -> list[str]:
    """What the table's columns mean, and the thresholds behind its labels."""
    sha = (model.get("sha256") or "")[:12]
    sent = ("" if sentence_threshold is None else
            f"; flagged = sentences scoring at or above {sentence_threshold:.3f} / sentences scored")
    return [f"# model {model.get('name')} ({sha}); score = P(machine-written); label fabricated at score >= "
            f"{threshold:.3f} (about {target_fpr:.1%} of human articles reach it){sent}"]


class Writer:
    """Writes records as JSONL, CSV or a readable table, flushing each one.
    `echo` prints a table line (through the progress bar, on a terminal)."""

    def __init__(self, stream: IO[str], fmt: str, header: bool, keep: tuple[str, ...] = (),
                 echo: Callable[[str], None] | None = None, legend: list[str] = (), wide: bool = False):
        self.stream, self.fmt, self.keep = stream, fmt, keep
        self.echo = echo or (lambda line: print(line, file=stream, flush=True))
        self.csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        self.width = None if wide else TABLE_TEXT_CHARS
        if self.csv is not None and header:
            self.csv.writerow(csv_header(keep))
            stream.flush()
        if fmt == "table":
            for line in (*legend, TABLE_HEADER):
                self.echo(line)

    def write(self, rec: dict) -> None:
        if self.fmt == "table":
            self.echo(_table_line(rec, self.width))
            return
        if self.csv is not None:
            self.csv.writerow(csv_row(rec, self.keep))
        else:
            line = json.dumps(rec, ensure_ascii=False)
            if _SURROGATE.search(line):  # lone surrogates from a JSONL input: keep them escaped
                line = json.dumps(rec)
            self.stream.write(line + "\n")
        self.stream.flush()
