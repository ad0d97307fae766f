"""`fabscore index REF... --out DIR`, `fabscore check CLAIM... --evidence REF...` and
`fabscore score ... --evidence REF... [--claims-out FILE]`.

Exit codes of `index`: 0 the index was written (unreadable inputs reported and
skipped), 2 no evidence at all, or a directory that cannot hold the index.
Exit codes of `check`: 0 something was checked, 1 every claim failed (empty, not a
string), 2 a usage error (no evidence, a bad flag, an output that holds records).
"""
from __future__ import annotations

import argparse
import os
import sys

PROG = "fabscore"


def run_index(args: argparse.Namespace) -> int:
    from fabscore.evidence.index import build
    from fabscore.evidence.table import EvidenceError

    def report(iid: str, reason: str) -> None:
        print(f"{PROG}: {iid}: skipped: {reason}", file=sys.stderr, flush=True)

    try:
        index = build(args.refs, text_field=args.text_field, on_error=report, progress=True)
        index.save(args.out)
    except EvidenceError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: error: cannot write the index to {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    n_articles = len({s.id for s in index.sentences})
    ivf = "" if index.ivf is None else f"; FAISS IVF structure stored: {index.ivf.nlist} lists"
    print(f"{PROG}: indexed {len(index)} sentences from {n_articles} articles into {args.out} "
          f"(skipped {len(index.errors)} inputs{ivf})", file=sys.stderr)
    return 0


def add_index_parser(subparsers) -> argparse.ArgumentParser:
    """Register `index` on an argparse subparsers object (func=run_index)."""
    p = subparsers.add_parser(
        "index", help="build an evidence index from trusted reference articles (for score --evidence)",
        description="Split trusted reference articles into sentences and embed them, for checking other "
                    "articles against them with `fabscore score --evidence DIR`.")
    p.add_argument("refs", nargs="+", metavar="REF",
                   help="a file (.txt .md .html), a folder (walked recursively), or a .jsonl/.csv data set")
    p.add_argument("--out", required=True, metavar="DIR", help="the index directory to write (new or empty)")
    p.add_argument("--text-field", default="text", metavar="F", help="text field of .jsonl/.csv rows (default: text)")
    p.set_defaults(func=run_index)
    return p


def add_evidence_argument(p: argparse.ArgumentParser, required: bool = False) -> None:
    """`--evidence REF` (one reference per use, repeated for more, so a path after it is never
    swallowed as evidence) and `--claims-out FILE`."""
    p.add_argument("--evidence", action="append", default=None, metavar="REF", required=required,
                   help="check every sentence against trusted evidence: an index directory (fabscore index) "
                        "or a reference article, file, folder or data set, indexed on the fly; one per use, "
                        "repeat it for more (--evidence a.txt --evidence b.txt)")
    p.add_argument("--claims-out", default=None, metavar="FILE",
                   help="with --evidence: also write one row per absent or conflicting claim (article, sentence, "
                        "offsets, kind, verdict, the evidence to read and its source); .jsonl gives JSON lines, "
                        "anything else CSV")


def claims_writer(args: argparse.Namespace, usage_error: type[Exception]):
    """None without --claims-out; else, once its flags are checked, the function that opens it given
    the records already in a resumed output: their rows are written first (the file is appended to
    instead when those records lost their sentences: a CSV output)."""
    path = getattr(args, "claims_out", None)
    if not path:
        return None
    if not getattr(args, "evidence", None):
        raise usage_error("--claims-out lists the claims evidence mode marks: give --evidence REF too")
    if getattr(args, "out", None) and os.path.realpath(path) == os.path.realpath(args.out):
        raise usage_error(f"--claims-out {path} is the --out file: give another file")
    from fabscore.io.claims_out import open_claims

    def opened(existing: list[dict]):
        try:
            return open_claims(path, existing, append=bool(existing) and not any(r.get("sentences") for r in existing))
        except OSError as e:
            raise usage_error(f"cannot write {path}: {e.strerror or e}") from e
    return opened


def evidence_check(refs: list[str] | None, det, usage_error: type[Exception]):
    """The EvidenceCheck for `score --evidence`, or None; a problem becomes usage_error (exit 2)."""
    if not refs:
        return None
    from fabscore.evidence.table import EvidenceError

    def report(iid: str, reason: str) -> None:
        print(f"{PROG}: evidence {iid}: skipped: {reason}", file=sys.stderr, flush=True)

    try:
        from fabscore.evidence.annotate import resolve_evidence

        return resolve_evidence(refs, det.model, on_error=report, paths=True, progress=True)
    except (EvidenceError, RuntimeError) as e:
        raise usage_error(str(e)) from e


# ---------------------------------------------------------------- fabscore check
def _claims_given(args: argparse.Namespace, usage_error: type[Exception]) -> list[tuple[str, str | None, str]]:
    """(id, path, text) per claim: each argument (ids 1, 2, ...), and for `-` each non-blank line of
    standard input (ids -:LINE). An empty argument stays: it gets its error record."""
    if args.claims.count("-") > 1:
        raise usage_error("standard input (-) can be read only once")
    out: list[tuple[str, str | None, str]] = []
    n = 0
    for a in args.claims:
        if a == "-":
            for line_no, line in enumerate(sys.stdin.read().splitlines(), 1):
                if line.strip():
                    out.append((f"-:{line_no}", "-", line))
        else:
            n += 1
            out.append((str(n), None, a))
    return out


def check_legend(check) -> list[str]:
    """What the check table's columns and statuses mean, and what was searched."""
    from fabscore.evidence.verdicts import SUPPORT_CUT

    index = check.index
    n = len(index.sentences.paths)
    return [f"# evidence: {len(index):,} sentences of {n:,} article{'' if n == 1 else 's'}; relevant from a "
            f"similarity of {check.relevance_cut:.2f}; supported = support >= {SUPPORT_CUT:g} and no claim absent or "
            "conflicting; contradicted = a claim conflicts with the evidence, or the evidence says the opposite",
            f"{'status':<12} {'supp.':>5}  claim"]


def check_lines(rec: dict, text: str, width: int | None) -> list[str]:
    """One checked claim in the table: a line per sentence (sentence_lines), or why it was not checked."""
    from fabscore.io.output import _cut, sentence_lines

    if rec["error"]:
        return [f"{'error':<12} {'-':>5}  {_cut(text, width) or '(empty)'}  ({rec['error']})"]
    summary = rec.get("evidence_summary") or {}
    if summary.get("reason"):
        why = summary["reason"].removeprefix("not checked: ")
        return [f"{'not_checked':<12} {'-':>5}  {_cut(text, width)}  ({why})"]
    return [line for s in rec["sentences"] for line in sentence_lines(s, width, indent=0)]


def run_check(args: argparse.Namespace) -> int:
    from fabscore.io.output import UsageError

    try:
        return _run_check(args, UsageError)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _run_check(args: argparse.Namespace, usage_error: type[Exception]) -> int:
    import csv
    import json

    from fabscore.io.output import CLAIM_CSV_COLUMNS, TABLE_TEXT_CHARS, claim_csv_row
    from fabscore.io.records import claim_record

    if args.index:
        from fabscore.evidence.index import INDEX_CONFIG

        if not os.path.isfile(os.path.join(args.index, INDEX_CONFIG)):
            raise usage_error(f"--index {args.index}: not an evidence index (build one with fabscore index REF... "
                              f"--out {args.index})")
        args.evidence = [args.index, *(args.evidence or [])]
    if not args.evidence:
        raise usage_error("nothing to check against: give --index DIR or --evidence REF")
    claims = _claims_given(args, usage_error)
    if not claims:
        raise usage_error("nothing to check: give a claim, or - and one claim per line on standard input")
    fmt = args.format or ("table" if args.out is None and sys.stdout.isatty() else
                          "csv" if (args.out or "").lower().endswith(".csv") else "jsonl")
    if args.out and os.path.isfile(args.out) and os.path.getsize(args.out) and not args.overwrite:
        raise usage_error(f"--out {args.out} already holds output: add --overwrite to replace it")
    from fabscore.cli.loading import load_detector

    det = load_detector(args.model, usage_error)
    check = evidence_check(args.evidence, det, usage_error)
    open_claims = claims_writer(args, usage_error)
    claims_out = open_claims([]) if open_claims else None
    try:
        stream = sys.stdout if args.out is None else open(args.out, "w", encoding="utf-8", newline="")
    except OSError as e:
        raise usage_error(f"cannot write {args.out}: {e.strerror or e}") from e
    width = None if args.wide else TABLE_TEXT_CHARS
    rows = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
    records, full = [], []
    try:
        if fmt == "table":
            print("\n".join(check_legend(check)), file=stream, flush=True)
        elif rows is not None:
            rows.writerow(CLAIM_CSV_COLUMNS)
        for iid, path, text in claims:
            whole = det.check_records([text], evidence=check, ids=[iid])[0]
            whole["path"] = path
            full.append(whole)
            rec = claim_record(whole, text)
            records.append(rec)
            if fmt == "table":
                print("\n".join(check_lines(rec, text, width)), file=stream, flush=True)
            elif rows is not None:
                rows.writerow(claim_csv_row(rec))
            else:
                stream.write(json.dumps(rec, ensure_ascii=False) + "\n")
            stream.flush()
            if claims_out is not None:
                claims_out.write(rec)
    finally:
        if claims_out is not None:
            claims_out.close()
        if stream is not sys.stdout:
            stream.close()
    from fabscore.evidence.verdicts import STATUSES

    counts = {k: sum((r.get("evidence_summary") or {}).get(f"n_{k}") or 0 for r in records) for k in STATUSES}
    failed = sum(r["error"] is not None for r in records)
    skipped = sum(bool((r.get("evidence_summary") or {}).get("reason")) for r in records)
    print(f"{PROG}: checked={len(records) - failed - skipped} not_checked={skipped} failed={failed} sentences: "
          + " ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)
    if args.html:
        from fabscore.io.report import write_html

        write_html(args.html, full, det.model_id)
        print(f"{PROG}: report written to {args.html}", file=sys.stderr)
    return 0 if failed < len(records) else 1


def add_check_parser(subparsers) -> argparse.ArgumentParser:
    """Register `check` on an argparse subparsers object (func=run_check)."""
    p = subparsers.add_parser(
        "check", help="check claims (any length, a headline, one sentence) against trusted evidence",
        description="Check each claim, sentence by sentence, against trusted evidence: supported, contradicted, "
                    "unverified or no_evidence, with the claims (names, numbers, dates, quotations) the "
                    "evidence does not contain or contradicts, and the evidence to read. One record per claim, "
                    "with the fields of `fabscore score --evidence` (the writing score too, for a text long "
                    "enough; a short claim abstains from it). Exit codes: 0 something was checked, 1 every "
                    "claim failed, 2 usage error.")
    p.add_argument("claims", nargs="+", metavar="CLAIM",
                   help="a claim (quote it), or - for one claim per line on standard input")
    add_evidence_argument(p)
    p.add_argument("--index", default=None, metavar="DIR", help="an evidence index (fabscore index) to check against "
                                                                "(or --evidence)")
    p.add_argument("--model", default=None, metavar="DIR", help="the model whose consistency head judges (default: "
                                                                 "default)")
    p.add_argument("--out", default=None, metavar="FILE", help="output file (default: stdout: a table on a "
                                                               "terminal, JSONL when piped)")
    p.add_argument("--format", choices=("jsonl", "csv", "table"), default=None,
                   help="jsonl, csv or table; default: from --out's suffix, else table on a terminal, jsonl piped")
    p.add_argument("--overwrite", action="store_true", help="replace an --out file that already holds output")
    p.add_argument("--html", default=None, metavar="REPORT", help="also write an HTML report here")
    p.add_argument("--wide", action="store_true", help="table: show sentences and claims whole")
    p.set_defaults(func=run_check)
    return p
