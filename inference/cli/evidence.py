"""`fabscore index REF... --out DIR` and `fabscore score ... --evidence REF...`.

Exit codes of `index`: 0 the index was written (unreadable inputs reported and
skipped), 2 no evidence at all, or a directory that cannot hold the index.
"""
from __future__ import annotations

import argparse
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


def add_evidence_argument(p: argparse.ArgumentParser) -> None:
    """`--evidence REF` on the score command: one reference per use, repeated for more, so a path
    after it is never swallowed as evidence."""
    p.add_argument("--evidence", action="append", default=None, metavar="REF",
                   help="check every sentence against trusted evidence: an index directory (fabscore index) "
                        "or a reference article, file, folder or data set, indexed on the fly; one per use, "
                        "repeat it for more (--evidence a.txt --evidence b.txt)")


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
