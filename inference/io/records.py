"""The one record shape: what `fabscore score` writes per input and what
`Detector.score` returns per text, built by `build_record` for both.

Numbers are rounded here and only here (6 digits), in every record, error
records included, so a JSONL line and an API dict for the same text are equal.

What drives a verdict: in an article labelled fabricated, its (at most MAX_DRIVERS) highest-scoring
sentences at or above `driver_threshold` (the stored sentence threshold for a DRIVER_FPR false-positive
rate on human sentences, never stricter than the flag threshold in use) are marked `driver`; an
article with none has no driver, and `why` says so. `why` is one line that restates the label and
the counts in words (`explain`), for every scored or abstaining record.
"""
from __future__ import annotations

RESULT_KEYS = ("score", "label", "threshold", "sentence_threshold", "driver_threshold", "target_fpr", "n_words",
               "reason", "why", "drivers", "sentences", "evidence_summary")
# Per sentence: start, end, text, score, flagged, driver, and evidence mode's support, status, claims, evidence.
EVIDENCE_SENTENCE_KEYS = ("support", "status", "claims", "evidence")
RECORD_KEYS = ("path", "id", *RESULT_KEYS, "text_field", "model", "error")  # + "fields" with --keep-fields
DIGITS = 6
MAX_DRIVERS = 3  # sentences marked as driving a fabricated verdict, at most
DRIVER_FPR = 0.05  # the stored sentence threshold a driver must reach: the one for this false-positive rate


def round6(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def build_record(result: dict, *, path: str | None, id: str | None, model: dict, error: str | None = None,
                 text_field: str | None = None, fields: dict | None = None) -> dict:
    """A record from a detector result (ArticleScore.as_dict, or an error result)."""
    sentences = [_sentence(s) for s in result["sentences"]]
    rec = {"path": path, "id": id, "score": round6(result["score"]), "label": result["label"],
           "threshold": round6(result["threshold"]), "sentence_threshold": round6(result["sentence_threshold"]),
           "driver_threshold": round6(result.get("driver_threshold")), "target_fpr": round6(result["target_fpr"]),
           "n_words": result["n_words"], "reason": result["reason"], "why": result.get("why"),
           "drivers": [i for i, s in enumerate(sentences) if s["driver"]], "sentences": sentences,
           "evidence_summary": result.get("evidence_summary"),
           "text_field": text_field, "model": model, "error": error}
    if fields is not None:
        rec["fields"] = fields
    return rec


def _sentence(s: dict) -> dict:
    """A sentence with `driver` and the evidence fields always present (false, null/empty without them)."""
    out = dict(s, score=round6(s["score"]), support=round6(s.get("support")))
    out.setdefault("driver", False)
    out.setdefault("status", None)
    out.setdefault("claims", [])
    out.setdefault("evidence", [])
    return out


def error_result(threshold: float, sentence_threshold: float | None, fpr: float,
                 driver_threshold: float | None = None) -> dict:
    """The result part of a record for an input that could not be scored."""
    return {"score": None, "label": "error", "threshold": threshold, "sentence_threshold": sentence_threshold,
            "driver_threshold": driver_threshold, "target_fpr": fpr, "n_words": None, "reason": None, "why": None,
            "sentences": []}


def pick_drivers(scores: list[float | None], label: str, driver_threshold: float | None,
                 most: int = MAX_DRIVERS) -> set[int]:
    """Positions of the sentences that drive a fabricated verdict: the `most` highest-scoring
    sentences scoring at or above `driver_threshold` (ties: the earlier one). None for any other
    label or without a bar: a driver is a sentence that reached a real threshold, never just the top."""
    if label != "fabricated" or driver_threshold is None:
        return set()
    above = sorted((i for i, p in enumerate(scores) if p is not None and p >= driver_threshold),
                   key=lambda i: (-scores[i], i))
    return set(above[:most])


def _n(k: int, what: str) -> str:
    return f"{k} {what}" + ("" if k == 1 else "s")


def explain(label: str, n_sentences: int, n_flagged: int, n_near: int, driver_threshold: float | None,
            reason: str | None = None) -> str | None:
    """One line saying why a record has its label, in words that agree with its numbers: n_flagged
    sentences of n_sentences are flagged, n_near score at or above driver_threshold (None for an
    error record: its `error` says what went wrong)."""
    if label == "abstain":
        return f"not scored: {reason}" if reason else "not scored"
    if label == "fabricated":
        if not n_sentences:
            return "the article scores at or above its threshold (this model scores no sentences)"
        if n_flagged:
            return f"{n_flagged} of {_n(n_sentences, 'sentence')} flagged"
        if n_near and driver_threshold is not None:
            close = "comes" if n_near == 1 else "come"
            return (f"no sentence flagged, but {n_near} of {n_sentences} {close} close (at or above "
                    f"{driver_threshold:.3f}): the text as a whole reads machine-written")
        return "no single sentence stands out: the text as a whole reads machine-written"
    if label == "human":
        if not n_sentences:
            return "the article scores below its threshold (this model scores no sentences)"
        if not n_flagged:
            return f"none of {_n(n_sentences, 'sentence')} flagged, and the article scores below its threshold"
        if 2 * n_flagged > n_sentences:
            return (f"{n_flagged} of {_n(n_sentences, 'sentence')} flagged, but the article as a whole scores below "
                    "its threshold: one by one they read machine-like, together they do not (the label is the "
                    "article's verdict; the flagged sentences are worth a second look)")
        return (f"{n_flagged} of {_n(n_sentences, 'sentence')} flagged, but the article scores below its threshold: "
                "a few machine-like sentences (quotes, lists, boilerplate) do not make an article machine-written")
    return None


# ---------------------------------------------------------------- claim records (`fabscore check`, Detector.check)
CLAIM_KEYS = ("path", "id", "claim", "status", "support", "sentences", "evidence_summary", "writing", "model", "error")
CLAIM_SENTENCE_KEYS = ("start", "end", "text", *EVIDENCE_SENTENCE_KEYS)


def claim_record(rec: dict, claim: str) -> dict:
    """A checked claim's record, made from the full record of its text: the claim, its status
    (verdicts.claim_status over its sentences) and lowest support, its sentences with their
    evidence fields, the evidence summary; `writing` holds the writing score only where the text
    was long enough to get one (a one-line claim has none, and no abstention fields either)."""
    from fabscore.evidence.verdicts import claim_status

    sentences = [{k: s.get(k) for k in CLAIM_SENTENCE_KEYS} for s in rec.get("sentences") or []]
    summary = rec.get("evidence_summary") or {}
    scored = rec.get("score") is not None
    writing = {k: rec.get(k) for k in ("score", "label", "threshold", "target_fpr", "why")} if scored else None
    status = None if rec.get("error") or summary.get("reason") else claim_status([s["status"] for s in sentences])
    return {"path": rec.get("path"), "id": rec.get("id"), "claim": claim if isinstance(claim, str) else None,
            "status": status, "support": summary.get("min_support"), "sentences": sentences,
            "evidence_summary": rec.get("evidence_summary"), "writing": writing, "model": rec.get("model"),
            "error": rec.get("error")}
