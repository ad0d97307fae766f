"""One self-contained HTML page for a batch of scored articles.

The page must open from a USB stick with no network, so CSS and JS are inline
and nothing is fetched. Article text is hostile input: the page is a Jinja2
template (templates/report.html.j2) rendered with autoescape on, and a
Content-Security-Policy that allows only our own script and style (by hash)
stops anything that slipped through from running. This module only shapes the
records into what the template shows.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

# Sentence-score colours: a light sequential ramp (white -> warm orange) that dark text stays
# readable on (contrast >= 6:1) and that luminance alone orders for colour-blind readers.
# The page's .b0 ... .b9 rules and the notebooks' shading both come from here.
PALETTE = ("#ffffff", "#fff6dd", "#ffebbd", "#ffdf9f", "#ffd084",
           "#ffbf6d", "#ffac5d", "#fd9754", "#f9814f", "#f0694d")
N_BUCKETS = len(PALETTE)
LABEL_RANK = {"fabricated": 0, "human": 1, "abstain": 2, "error": 3}
FLAG = "\u2691"  # ⚑
DRIVER = "\u2605"  # ★
TEMPLATES = Path(__file__).resolve().parent / "templates"
COLUMNS = (("score", "Score", "num", "descending"), ("label", "Label", "", "ascending"),
           ("words", "Words", "num", "descending"), ("nflagged", "Flagged", "num", "descending"),
           ("path", "Path", "", "ascending"))
EVIDENCE_COLUMNS = (("doubted", "Not supported", "num", "descending"),
                    ("invented", "Absent / conflicting claims", "num", "descending"))


def _csp_hash(source: str) -> str:
    """CSP source expression allowing exactly this inline block and nothing else."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      keep_trailing_newline=True)
    env.globals.update(fmt=_fmt, pct=_pct, n_buckets=N_BUCKETS, flag=FLAG, driver=DRIVER, columns=COLUMNS)
    return env


def _fmt(score: float | None, digits: int = 2) -> str:
    return "\u2014" if score is None else f"{score:.{digits}f}"


def _pct(fpr: float | None) -> str:
    return "?" if fpr is None else f"{fpr * 100:g}%"


def _bucket(score: float) -> int:
    return min(N_BUCKETS - 1, max(0, int(score * N_BUCKETS)))


def shade(score: float) -> str:
    """The colour of a sentence with this score (the report's and the notebooks' shading)."""
    return PALETTE[_bucket(score)]


def _is_scored(rec: dict) -> bool:
    return rec.get("score") is not None and rec.get("label") in ("fabricated", "human")


def _where(rec: dict) -> str:
    return str(rec.get("path") or rec.get("id") or "(no path)")


def _models(records: list[dict], model: dict | None) -> list[dict]:
    """Distinct models in the batch (normally one), the explicit one first."""
    out, seen = [], set()
    for m in ([model] if model else []) + [r.get("model") or {} for r in records]:
        key = (m.get("name"), m.get("sha256"))
        if m and key not in seen:
            seen.add(key)
            out.append(m)
    return out


def _evidence(rec: dict) -> dict | None:
    e = rec.get("evidence_summary")
    return e if isinstance(e, dict) else None


def _is_checked(rec: dict) -> bool:
    """Evidence mode checked some of its sentences (an abstaining record's too)."""
    e = _evidence(rec)
    return bool(e and e.get("n_sentences_checked") and rec.get("sentences"))


def _counts(records: list[dict]) -> dict[str, int]:
    labels = [r.get("label") for r in records]
    counts = {"articles": len(records), "scored": sum(map(_is_scored, records)),
              "flagged": labels.count("fabricated"), "human": labels.count("human"),
              "abstained": labels.count("abstain"), "errors": labels.count("error")}
    summaries = [e for e in map(_evidence, records) if e]
    if summaries:  # evidence mode
        for key, name in (("n_contradicted", "contradicted sentences"), ("n_unverified", "unverified sentences"),
                          ("n_absent", "absent claims"), ("n_conflicting", "conflicting claims")):
            counts[name] = sum(int(e.get(key) or 0) for e in summaries)
    return counts


def _thresholds(records: list[dict]) -> list[tuple[float, float | None]]:
    pairs = {(r.get("threshold"), r.get("target_fpr")) for r in records if r.get("threshold") is not None}
    return sorted(pairs, key=lambda p: (p[0], p[1] if p[1] is not None else -1))


STATUS_TEXT = {"supported": "supported by the evidence",
               "contradicted": "CONTRADICTED by the evidence",
               "unverified": "NOT VERIFIED: relevant evidence does not say this",
               "no_evidence": "no relevant evidence found"}
VERDICT_TEXT = {"absent": "absent from the evidence", "conflicting": "conflicts with the evidence"}


def _source(ev: dict) -> str:
    """Where an evidence sentence comes from: its title and URL when the reference had them, else its path."""
    named = " ".join(x for x in (ev.get("title") or "", f"<{ev['url']}>" if ev.get("url") else "") if x)
    return named or str(ev.get("path") or ev.get("id") or "?")


def _evidence_tip(s: dict) -> str:
    """Evidence mode's part of a sentence's tooltip: its status, support, the claims to look at, and
    the evidence to read (the sentence a conflicting value comes from, else the nearest one)."""
    status = s.get("status")
    if status not in STATUS_TEXT:
        return ""
    tip = f"; {STATUS_TEXT[status]}"
    if s.get("support") is not None:
        tip += f" (support {float(s['support']):.2f})"
    claims = [c for c in s.get("claims") or [] if c.get("verdict") in VERDICT_TEXT]
    for c in claims:
        tip += f"; \u201c{c.get('text')}\u201d {VERDICT_TEXT[c['verdict']]}"
        if c.get("evidence_value"):
            tip += f" (the evidence says \u201c{c['evidence_value']}\u201d)"
    evidence = s.get("evidence") or []
    at = next((c["evidence_index"] for c in claims if isinstance(c.get("evidence_index"), int)
               and 0 <= c["evidence_index"] < len(evidence)), 0)
    if evidence:
        best = evidence[at]
        which = "conflicting evidence" if at or any(c.get("evidence_value") for c in claims) else "nearest evidence"
        tip += f"; {which}: \u201c{best.get('text', '')}\u201d ({_source(best)})"
    return tip


def _pieces(s: dict, text: str) -> list[dict]:
    """The sentence's text in pieces, its absent and conflicting claims (evidence mode) marked."""
    start = s.get("start") if isinstance(s.get("start"), int) else 0
    marks = sorted((c["start"] - start, c["end"] - start, str(c.get("kind") or "claim"), c["verdict"],
                    c.get("evidence_value"))
                   for c in s.get("claims") or [] if c.get("verdict") in VERDICT_TEXT
                   and isinstance(c.get("start"), int) and isinstance(c.get("end"), int))
    out, pos = [], 0
    for a, b, kind, verdict, value in marks:
        if a < pos or not 0 <= a < b <= len(text):
            continue  # overlapping or outside the sentence
        if a > pos:
            out.append({"text": text[pos:a], "claim": None})
        out.append({"text": text[a:b], "claim": kind, "verdict": verdict, "value": value})
        pos = b
    if pos < len(text) or not out:
        out.append({"text": text[pos:], "claim": None})
    return out


def _sentence(s: dict) -> dict:
    score = s.get("score")
    flagged = bool(s.get("flagged"))
    driver = bool(s.get("driver")) and score is not None
    text = "" if s.get("text") is None else str(s["text"])
    status = s.get("status") if s.get("status") in STATUS_TEXT else None
    head = "no sentence score (the writing model abstained)" if score is None else \
        f"sentence score {float(score):.2f}" + (" \u2014 flagged" if flagged else "") \
        + ("; drives the fabricated label" if driver else "")
    return {"text": text, "pieces": _pieces(s, text), "score": "" if score is None else f"{float(score):.4f}",
            "flagged": flagged, "driver": driver, "status": status, "tip": head + _evidence_tip(s),
            "cls": f"s b{_bucket(float(score or 0.0))}" + (" flagged" if flagged else "")
                   + (" driver" if driver else "") + (f" ev-{status}" if status else "")}


def _paragraphs(sentences: Iterable[dict]) -> list[list[dict]]:
    """Sentences in paragraphs: a gap of more than one character starts a new one. Each keeps its
    number in the record (the invented-specifics list links to it)."""
    out: list[list[dict]] = []
    prev_end = None
    for n, s in enumerate(sentences):
        start = s.get("start")
        gap = (start - prev_end) if isinstance(start, int) and isinstance(prev_end, int) else 1
        if not out or gap > 1:
            out.append([])
        out[-1].append({**_sentence(s), "n": n})
        prev_end = s.get("end")
    return out


def _invented(rec: dict) -> list[dict]:
    """The article's absent and conflicting claims, in text order, each with its sentence's number."""
    e = _evidence(rec) or {}
    return [{"text": str(c.get("text")), "verdict": c.get("verdict"), "value": c.get("evidence_value"),
             "kind": str(c.get("kind") or "claim"), "sentence": c.get("sentence")}
            for c in e.get("invented_specifics") or [] if c.get("verdict") in VERDICT_TEXT]


def _article(i: int, rec: dict) -> dict:
    sents = rec.get("sentences") or []
    facts = {k: rec.get(k) for k in ("score", "threshold", "sentence_threshold", "target_fpr", "n_words", "model",
                                     "reason")}
    why = rec.get("why")
    return {"i": i, "rec": facts, "label": str(rec.get("label")), "where": _where(rec), "n_sentences": len(sents),
            "n_flagged": sum(bool(s.get("flagged")) for s in sents), "paragraphs": _paragraphs(sents),
            "why": None if why is None else str(why), "driver_threshold": rec.get("driver_threshold"),
            "n_drivers": sum(bool(s.get("driver")) and s.get("score") is not None for s in sents),
            "evidence": _evidence(rec), "invented": _invented(rec)}


def _inline_sources() -> tuple[str, str]:
    """The report's one inline style block and one inline script."""
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8") + "".join(
        f".b{i}{{background:{c}}}" for i, c in enumerate(PALETTE))
    return css, (TEMPLATES / "report.js").read_text(encoding="utf-8")


def inline_hashes() -> dict[str, str]:
    """The CSP source expressions of the report's inline style and script: a page that shows the report
    in a srcdoc frame must allow them too, since such a frame is also bound by its parent's policy."""
    css, js = _inline_sources()
    return {"style": _csp_hash(css), "script": _csp_hash(js)}


def render(records: list[dict], model: dict | None = None) -> str:
    """The whole page as one string."""
    env = _environment()
    css, js = _inline_sources()
    csp = (f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    order = sorted(range(len(records)),
                   key=lambda i: (records[i].get("score") is None, -(records[i].get("score") or 0.0), i))
    evidence = any(_evidence(r) for r in records)

    def row(i: int) -> dict:
        r, e = records[i], _evidence(records[i]) or {}
        checked = bool(e.get("n_sentences_checked"))
        return {"i": i, "score": r.get("score"), "words": r.get("n_words"), "label": str(r.get("label") or "error"),
                "where": _where(r), "rank": LABEL_RANK.get(str(r.get("label") or "error"), 9),
                "nflagged": sum(bool(s.get("flagged")) for s in r.get("sentences") or []) if _is_scored(r) else None,
                "doubted": (int(e.get("n_contradicted") or 0) + int(e.get("n_unverified") or 0)) if checked else None,
                "invented": len(e.get("invented_specifics") or []) if checked else None}

    rows = [row(i) for i in order]
    shown = [i for i in order if _is_scored(records[i]) or _is_checked(records[i])]
    problems = [{"i": i, "label": str(r.get("label") or "error"), "where": _where(r),
                 "why": r.get("error") or r.get("reason") or "no reason recorded"}
                for i, r in enumerate(records) if i not in shown]
    from markupsafe import Markup

    return env.get_template("report.html.j2").render(
        csp=csp, css=Markup(css), js=Markup(js), models=_models(records, model), thresholds=_thresholds(records),
        counts=_counts(records), rows=rows, evidence=evidence,
        drivers=any(s.get("driver") for i in shown for s in records[i].get("sentences") or []),
        table_columns=COLUMNS + (EVIDENCE_COLUMNS if evidence else ()),
        articles=[_article(i, records[i]) for i in shown], problems=problems, verdict_text=VERDICT_TEXT)


def write_html(path: str | Path, records: list[dict], model: dict | None = None) -> Path:
    """Write the report for `records` (fabscore score's JSONL records) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(list(records), model), encoding="utf-8")
    return path


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a `fabscore score` output file, skipping blank lines."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """`python -m fabscore.io.report runs/x.jsonl -o report.html`: render an existing run."""
    ap = argparse.ArgumentParser(prog="python -m fabscore.io.report", description=main.__doc__)
    ap.add_argument("jsonl")
    ap.add_argument("-o", "--out", default=None, help="default: the JSONL path with .html")
    args = ap.parse_args(argv)
    out = write_html(args.out or Path(args.jsonl).with_suffix(".html"), read_jsonl(args.jsonl))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
