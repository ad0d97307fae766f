"""`--claims-out FILE`: one row per claim a fact-checker must look at (absent or conflicting).

Each row names the article, the sentence (its number and offsets), the claim (offsets, text, kind,
verdict, the evidence's value when conflicting), the sentence's status and support, and the evidence
to read: the sentence the conflicting value comes from, else the nearest one, with its source (path,
id, title and URL when the reference had them, offsets). A `.jsonl` file gets JSON lines, anything
else CSV. Rows are flushed as each record is written, like the records themselves.
"""
from __future__ import annotations

import csv
import json
from typing import IO

from fabscore.evidence.verdicts import MARKED

COLUMNS = ("path", "id", "sentence", "sentence_start", "sentence_end", "start", "end", "claim", "kind", "verdict",
           "evidence_value", "status", "support", "evidence_path", "evidence_id", "evidence_title", "evidence_url",
           "evidence_start", "evidence_end", "evidence_similarity", "evidence_text", "sentence_text")


def claim_rows(rec: dict) -> list[dict]:
    """The rows of one record: its absent and conflicting claims, in text order."""
    out = []
    for n, s in enumerate(rec.get("sentences") or []):
        evidence = s.get("evidence") or []
        for c in s.get("claims") or []:
            if c.get("verdict") not in MARKED:
                continue
            at = c.get("evidence_index")
            ev = evidence[at] if isinstance(at, int) and 0 <= at < len(evidence) else (evidence or [{}])[0]
            out.append({"path": rec.get("path"), "id": rec.get("id"), "sentence": n, "sentence_start": s.get("start"),
                        "sentence_end": s.get("end"), "start": c.get("start"), "end": c.get("end"),
                        "claim": c.get("text"), "kind": c.get("kind"), "verdict": c["verdict"],
                        "evidence_value": c.get("evidence_value"), "status": s.get("status"),
                        "support": s.get("support"), "evidence_path": ev.get("path"), "evidence_id": ev.get("id"),
                        "evidence_title": ev.get("title"), "evidence_url": ev.get("url"),
                        "evidence_start": ev.get("start"), "evidence_end": ev.get("end"),
                        "evidence_similarity": ev.get("similarity"), "evidence_text": ev.get("text"),
                        "sentence_text": s.get("text")})
    return out


class ClaimsWriter:
    """Writes claim_rows of each record to a stream (CSV with a header, or JSON lines)."""

    def __init__(self, stream: IO[str], jsonl: bool, header: bool = True):
        self.stream, self.jsonl = stream, jsonl
        self.csv = None if jsonl else csv.DictWriter(stream, COLUMNS, lineterminator="\n")
        if self.csv is not None and header:
            self.csv.writeheader()
            stream.flush()

    def write(self, rec: dict) -> int:
        rows = claim_rows(rec)
        for row in rows:
            if self.jsonl:
                self.stream.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                self.csv.writerow({k: "" if v is None else " ".join(str(v).split()) for k, v in row.items()})
        self.stream.flush()
        return len(rows)

    def close(self) -> None:
        self.stream.close()


def open_claims(path: str | None, records: list[dict] = (), append: bool = False) -> ClaimsWriter | None:
    """The writer for --claims-out (None without it). records: those already in a resumed output, whose
    rows are written first, so the file matches the output; append: keep the file as it is instead
    (a resumed CSV output, whose records no longer carry their sentences)."""
    if not path:
        return None
    import os

    keep = append and os.path.isfile(path) and os.path.getsize(path) > 0
    stream = open(path, "a" if keep else "w", encoding="utf-8", newline="")
    writer = ClaimsWriter(stream, path.lower().endswith(".jsonl"), header=not keep)
    for rec in [] if keep else records:
        writer.write(rec)
    return writer
