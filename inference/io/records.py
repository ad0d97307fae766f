"""The one record shape: what `fabscore score` writes per input and what
`Detector.score` returns per text, built by `build_record` for both.

Numbers are rounded here and only here (6 digits), in every record, error
records included, so a JSONL line and an API dict for the same text are equal.
"""
from __future__ import annotations

RESULT_KEYS = ("score", "label", "threshold", "sentence_threshold", "target_fpr", "n_words", "reason", "sentences",
               "evidence_summary")
# Per sentence: start, end, text, score, flagged, and evidence mode's support, status, claims, evidence.
EVIDENCE_SENTENCE_KEYS = ("support", "status", "claims", "evidence")
RECORD_KEYS = ("path", "id", *RESULT_KEYS, "text_field", "model", "error")  # + "fields" with --keep-fields
DIGITS = 6


def round6(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def build_record(result: dict, *, path: str | None, id: str | None, model: dict, error: str | None = None,
                 text_field: str | None = None, fields: dict | None = None) -> dict:
    """A record from a detector result (ArticleScore.as_dict, or an error result)."""
    rec = {"path": path, "id": id, "score": round6(result["score"]), "label": result["label"],
           "threshold": round6(result["threshold"]), "sentence_threshold": round6(result["sentence_threshold"]),
           "target_fpr": round6(result["target_fpr"]), "n_words": result["n_words"], "reason": result["reason"],
           "sentences": [_sentence(s) for s in result["sentences"]],
           "evidence_summary": result.get("evidence_summary"),
           "text_field": text_field, "model": model, "error": error}
    if fields is not None:
        rec["fields"] = fields
    return rec


def _sentence(s: dict) -> dict:
    """A sentence with the evidence fields always present (null/empty without evidence)."""
    out = dict(s, score=round6(s["score"]), support=round6(s.get("support")))
    out.setdefault("status", None)
    out.setdefault("claims", [])
    out.setdefault("evidence", [])
    return out


def error_result(threshold: float, sentence_threshold: float | None, fpr: float) -> dict:
    """The result part of a record for an input that could not be scored."""
    return {"score": None, "label": "error", "threshold": threshold, "sentence_threshold": sentence_threshold,
            "target_fpr": fpr, "n_words": None, "reason": None, "sentences": []}
