"""Held-out metrics of evidence mode: the consistency head's support per corruption type and on
natural rewrites, and the statuses and claim verdicts the records carry (verdicts.py's rules,
applied exactly as scoring applies them: `EvidenceCheck.check`).
"""
from __future__ import annotations

import numpy as np

from fabscore.evidence.verdicts import MARKED, STATUSES, SUPPORT_CUT
from fabscore.training.eval.metrics import auroc
from fabscore.training.evidence.corruptions import TYPES
from fabscore.training.evidence.pairs import Pair

CLAIM_KINDS = ("entity", "number", "date", "speaker", "name_same")  # corruptions that change one claim


def changed_claim(pair: Pair, result) -> str:
    """The verdict of the claim a corruption changed: its verdict (a changed span covered by several
    claims takes the most severe: conflicting, then absent), `not_extracted` when no claim covers
    it, `no_evidence` when nothing relevant was retrieved."""
    if result.status == "no_evidence":
        return "no_evidence"
    s0, s1 = pair.span
    hit = [v.verdict for v in result.claims if v.claim.start < s1 and s0 < v.claim.end]
    return next((v for v in ("conflicting", "absent", "backed") if v in hit), "not_extracted")


def claim_level(pairs: list[Pair], results, negatives: tuple[str, ...] = ("original",)) -> dict:
    """Claims marked (absent or conflicting) as a finding: recall over the claims the corruptions
    changed (a change spaCy does not extract, or in a sentence without relevant evidence, counts as
    missed), precision against every claim of the `negatives` kinds' sentences."""
    tp = n_pos = fp = n_neg = missed = 0
    for p, r in zip(pairs, results):
        if p.kind in CLAIM_KINDS and p.span:
            got = changed_claim(p, r)
            n_pos += 1
            tp += got in MARKED
            missed += got == "not_extracted"
        elif p.kind in negatives:
            n_neg += len(r.claims)
            fp += sum(v.verdict in MARKED for v in r.claims)
    return {"recall": tp / n_pos if n_pos else None, "precision": tp / (tp + fp) if tp + fp else None,
            "false_marks": fp, "n_changed_claims": n_pos, "n_not_extracted": missed, "n_negative_claims": n_neg,
            "negatives": list(negatives)}


def verdict_tables(pairs: list[Pair], results) -> dict:
    """Per pair kind: the share of each status; for the corruptions that change one claim, the share
    of each verdict of that claim; and the share of all claims marked."""
    kinds = sorted({p.kind for p in pairs})
    out = {}
    for k in kinds:
        rows = [(p, r) for p, r in zip(pairs, results) if p.kind == k]
        n_claims = sum(len(r.claims) for _, r in rows)
        d = {"n": len(rows), "status": {s: round(sum(r.status == s for _, r in rows) / len(rows), 4) for s in STATUSES},
             "claims_marked": round(sum(v.verdict in MARKED for _, r in rows for v in r.claims) / n_claims, 4)
             if n_claims else None}
        if k in CLAIM_KINDS:
            got = [changed_claim(p, r) for p, r in rows if p.span]
            d["changed_claim"] = {v: round(got.count(v) / len(got), 4)
                                  for v in ("conflicting", "absent", "backed", "not_extracted", "no_evidence")}
        out[k] = d
    return out


def evaluate(pairs: list[Pair], support: np.ndarray, results=None) -> dict:
    """The held-out evidence metrics: per corruption type the sentence-level AUROC of support
    (that type vs the originals) and its share below the support cut, the natural rewrites' AUROC
    (inserted vs restated sentences); with `results` (EvidenceCheck.check of the pairs) the
    statuses and claim verdicts."""
    y = np.array([p.label for p in pairs])
    kinds = np.array([p.kind for p in pairs])
    orig = kinds == "original"
    per_type = {}
    for t in TYPES:
        m = kinds == t
        if m.any():
            sel = orig | m
            per_type[t] = {"auroc": auroc(y[sel], support[sel]), "n": int(m.sum()),
                           "share_below_cut": float((support[m] < SUPPORT_CUT).mean())}
    nat = np.isin(kinds, ["inserted", "restated"])
    out = {"corruption_auroc": per_type, "n_originals": int(orig.sum()),
           "originals_share_supported": float((support[orig] >= SUPPORT_CUT).mean()) if orig.any() else None,
           "natural_auroc": auroc(y[nat], support[nat]),
           "natural_n": {"inserted": int((kinds == "inserted").sum()), "restated": int((kinds == "restated").sum())}}
    if results is not None:
        out["verdicts"] = verdict_tables(pairs, results)
        out["claim_level"] = claim_level(pairs, results)
        out["claim_level_with_restated"] = claim_level(pairs, results, ("original", "restated"))
    return out
