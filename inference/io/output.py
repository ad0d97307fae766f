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

from fabscore.io.records import DRIVER_FPR, MAX_DRIVERS

PROG = "fabscore"
FORMATS = ("jsonl", "csv", "table")
CSV_COLUMNS = ("path", "id", "score", "label", "threshold", "sentence_threshold", "driver_threshold", "target_fpr",
               "n_words", "reason", "why", "n_sentences", "n_flagged", "n_drivers", "text_field", "model",
               "model_sha256", "error")
# Evidence mode's columns (empty without --evidence): the counts per status, the lowest support, and the
# claims a reader must look at, joined with " | " (a conflicting one with the evidence's value).
EVIDENCE_COLUMNS = ("n_checked", "n_supported", "n_contradicted", "n_unverified", "n_no_evidence", "min_support",
                    "absent_claims", "conflicting_claims", "evidence_reason")
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
    """CSV_COLUMNS and EVIDENCE_COLUMNS, then one column per --keep-fields name; a kept name that is
    also one of the record's own columns (label, say) is written as field.<name>, never twice."""
    own = CSV_COLUMNS + EVIDENCE_COLUMNS
    return own + tuple(f"field.{k}" if k in own else k for k in keep)


def _joined(claims: list[dict], verdict: str) -> str:
    return " | ".join(c["text"] + (f" (evidence: {c['evidence_value']})" if c.get("evidence_value") else "")
                      for c in claims if c.get("verdict") == verdict)


def evidence_values(rec: dict) -> list:
    """The record's EVIDENCE_COLUMNS values (all empty without evidence)."""
    e = rec.get("evidence_summary")
    if not isinstance(e, dict):
        return [None] * len(EVIDENCE_COLUMNS)
    marked = e.get("invented_specifics") or []
    return [e.get("n_sentences_checked"), e.get("n_supported"), e.get("n_contradicted"), e.get("n_unverified"),
            e.get("n_no_evidence"), e.get("min_support"), _joined(marked, "absent"), _joined(marked, "conflicting"),
            e.get("reason")]


CLAIM_CSV_COLUMNS = ("path", "id", "claim", "status", "support", "n_sentences", "n_supported", "n_contradicted",
                     "n_unverified", "n_no_evidence", "absent_claims", "conflicting_claims", "reason", "error")


def claim_csv_row(rec: dict) -> list[str]:
    """A claim record's CSV row (CLAIM_CSV_COLUMNS)."""
    e = rec.get("evidence_summary") or {}
    marked = e.get("invented_specifics") or []
    values = [rec.get("path"), rec.get("id"), rec.get("claim"), rec.get("status"), rec.get("support"),
              len(rec.get("sentences") or []), e.get("n_supported"), e.get("n_contradicted"), e.get("n_unverified"),
              e.get("n_no_evidence"), _joined(marked, "absent"), _joined(marked, "conflicting"), e.get("reason"),
              rec.get("error")]
    return [_one_line(v) for v in values]


def csv_row(rec: dict, keep: tuple[str, ...] = ()) -> list[str]:
    """The record's CSV row: CSV_COLUMNS, then one column per --keep-fields name."""
    sentences = rec.get("sentences") or []
    model = rec.get("model") or {}
    values = [rec["path"], rec["id"], rec["score"], rec["label"], rec["threshold"], rec["sentence_threshold"],
              rec.get("driver_threshold"), rec["target_fpr"], rec["n_words"], rec["reason"], rec.get("why"),
              len(sentences), sum(bool(s.get("flagged")) for s in sentences),
              sum(bool(s.get("driver")) for s in sentences), rec.get("text_field"), model.get("name"),
              model.get("sha256"), rec["error"]] + evidence_values(rec)
    fields = rec.get("fields") or {}
    return [_one_line(v) for v in values] + [_one_line(fields.get(k)) for k in keep]


def record_from_csv(row: dict) -> dict:
    """A CSV row back as a record (without sentences, so without drivers; `why` says what they were),
    for the HTML report and --resume."""
    def num(v: str, cast: Callable = float):
        return None if v in ("", None) else cast(v)

    evidence = None
    if row.get("n_checked") not in ("", None):  # the counts survive; the claims' offsets are not in a CSV
        evidence = {"n_sentences_checked": num(row["n_checked"], int),
                    **{f"n_{k}": num(row[f"n_{k}"], int) for k in ("supported", "contradicted", "unverified",
                                                                   "no_evidence")},
                    "min_support": num(row["min_support"]), "invented_specifics": [],
                    "reason": row.get("evidence_reason") or None}
    return {"path": row["path"], "id": row["id"], "score": num(row["score"]), "label": row["label"],
            "threshold": num(row["threshold"]), "sentence_threshold": num(row["sentence_threshold"]),
            "driver_threshold": num(row["driver_threshold"]), "target_fpr": num(row["target_fpr"]),
            "n_words": num(row["n_words"], int), "reason": row["reason"] or None, "why": row["why"] or None,
            "drivers": [], "sentences": [], "evidence_summary": evidence, "text_field": row["text_field"] or None,
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


NO_EVIDENCE_SHOWN = 3  # no_evidence sentences listed per article in the table; the rest are counted
STATUS_ORDER = {"contradicted": 0, "unverified": 1}


def _source(ev: dict, width: int | None = TABLE_TEXT_CHARS) -> str:
    """An evidence sentence: similarity, title and URL when the reference had them, where, the text."""
    named = " ".join(x for x in (f'"{_cut(ev["title"], 60 if width else None)}"' if ev.get("title") else "",
                                 f"<{ev['url']}>" if ev.get("url") else "") if x)
    where = f"{_where(ev['path'], ev['id'])} {ev['start']}-{ev['end']}"
    return (f"({ev['similarity']:.2f}) " + (f"{named} " if named else "") + where
            + f' "{_cut(ev["text"], 60 if width else None)}"')


def _claim_text(c: dict) -> str:
    """A claim as the table names it: a quotation in quotation marks."""
    return f'"{c["text"]}"' if c.get("kind") == "quote" else str(c["text"])


def sentence_lines(s: dict, width: int | None = TABLE_TEXT_CHARS, indent: int = 11) -> list[str]:
    """A checked sentence in the table: its status, support and text; its absent and conflicting
    claims (a conflicting one with the evidence's value); the evidence to read: the sentence a
    conflicting value comes from, else the nearest one."""
    support = "-" if s.get("support") is None else f"{s['support']:.3f}"
    lines = [f"{'':{indent}}{s['status']:<12} {support:>5}  {_cut(s['text'], width)}"]
    pad = " " * (indent + 20)
    claims = s.get("claims") or []
    absent = [_claim_text(c) for c in claims if c.get("verdict") == "absent"]
    conflicting = [f"{_claim_text(c)} (evidence: {c['evidence_value']})" for c in claims
                   if c.get("verdict") == "conflicting"]
    if conflicting:
        lines.append(f"{pad}conflicting: {_cut('; '.join(conflicting), width)}")
    if absent:
        lines.append(f"{pad}absent: {_cut('; '.join(absent), width)}")
    evidence = s.get("evidence") or []
    at = next((c["evidence_index"] for c in claims if c.get("verdict") == "conflicting"
               and isinstance(c.get("evidence_index"), int) and c["evidence_index"] < len(evidence)), 0)
    if evidence:
        label = "conflicting evidence" if conflicting else "nearest"
        if s["status"] == "contradicted" and not conflicting:
            label = "negated in"
        lines.append(f"{pad}{label} {_source(evidence[at], width)}")
    return lines


def _evidence_lines(rec: dict, width: int | None = TABLE_TEXT_CHARS) -> list[str]:
    """Evidence mode in the table: the article's counts, then what a fact-checker must look at:
    contradicted sentences, then unverified ones (lowest support first), each with its absent and
    conflicting claims and the evidence to read; then at most NO_EVIDENCE_SHOWN no_evidence
    sentences and a count of the rest. Supported sentences are counted, not listed."""
    summary = rec.get("evidence_summary")
    if not summary:
        return []
    if summary.get("reason"):
        return [f"{'':11}evidence: {summary['reason']}"]
    low = summary.get("min_support")
    n_marked = len(summary.get("invented_specifics") or [])
    lines = [f"{'':11}evidence: {summary['n_sentences_checked']} sentences checked: "
             f"{summary['n_supported']} supported, {summary['n_contradicted']} contradicted, "
             f"{summary['n_unverified']} unverified, "
             f"{summary['n_no_evidence']} no_evidence" + ("" if low is None else f"; min support {low:.3f}")
             + (f"; {n_marked} claims absent or conflicting" if n_marked else "")]
    sentences = rec.get("sentences") or []
    doubted = sorted((s for s in sentences if s.get("status") in STATUS_ORDER),
                     key=lambda s: (STATUS_ORDER[s["status"]], s["support"] if s.get("support") is not None else 0.0,
                                    s["start"]))
    for s in doubted:
        lines += sentence_lines(s, width)
    none = [s for s in sentences if s.get("status") == "no_evidence"]
    for s in none[:NO_EVIDENCE_SHOWN]:
        lines += sentence_lines(s, width)[:1]
    if len(none) > NO_EVIDENCE_SHOWN:
        lines.append(f"{'':11}... and {len(none) - NO_EVIDENCE_SHOWN} more no_evidence sentences")
    return lines


def _driver_lines(rec: dict, width: int | None = TABLE_TEXT_CHARS) -> list[str]:
    """Below an article labelled fabricated or with a flagged sentence: its `why`, then its driver
    sentences (highest first), each with its score. Nothing for a quiet human article."""
    sentences = rec.get("sentences") or []
    if not rec.get("why") or not (rec.get("label") == "fabricated" or any(s.get("flagged") for s in sentences)):
        return []
    drivers = sorted((s for s in sentences if s.get("driver") and s.get("score") is not None),
                     key=lambda s: (-s["score"], s["start"]))
    return [f"{'':11}why: {rec['why']}"] + [f"{'':11}driver {s['score']:.3f}  {_cut(s['text'], width)}"
                                             for s in drivers]


def _table_line(rec: dict, width: int | None = TABLE_TEXT_CHARS) -> str:
    """One line per article; below it, why it got its label and its driver sentences (when it is
    labelled fabricated or has a flagged sentence), and in evidence mode its evidence counts and
    unbacked sentences."""
    sentences = rec.get("sentences") or []
    score = "" if rec["score"] is None else f"{rec['score']:.3f}"
    flagged = f"{sum(bool(s.get('flagged')) for s in sentences)}/{len(sentences)}" if sentences else ""
    why = rec["error"] or rec["reason"] or ""
    line = f"{rec['label']:<10} {score:>6} {flagged:>7}  {_where(rec['path'], rec['id'])}"
    line += f"  ({why})" if why else ""
    return "\n".join([line, *_driver_lines(rec, width), *_evidence_lines(rec, width)])


TABLE_HEADER = f"{'label':<10} {'score':>6} {'flagged':>7}  path"


def table_legend(model: dict, threshold: float, target_fpr: float, sentence_threshold: float | None,
                 driver_threshold: float | None = None) -> list[str]:
    """What the table's columns mean, and the thresholds behind its labels."""
    sha = (model.get("sha256") or "")[:12]
    bar = (f"{driver_threshold:.3f}, the sentence threshold for a {DRIVER_FPR:.0%} FPR" if driver_threshold is not None
           else f"its driver_threshold (the sentence threshold for a {DRIVER_FPR:.0%} FPR, where the model has one)")
    sent = ("" if sentence_threshold is None else
            f"; flagged = sentences scoring at or above {sentence_threshold:.3f} / sentences scored"
            f"; driver = one of the {MAX_DRIVERS} highest sentences of an article labelled fabricated, if at or above "
            f"{bar}")
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
