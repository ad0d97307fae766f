"""Held-out metrics of the consistency head: per corruption type, natural rewrites, and claims.

Claims are judged as the records judge them (annotate.claim_supported); the claim cut, the
support at or below which a claim found away from its best evidence sentence is not vouched
for, is chosen here too, by best F1 on out-of-fold training pairs.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

from fabscore.evidence.annotate import claim_supported
from fabscore.training.eval.metrics import auroc
from fabscore.training.evidence.corruptions import TYPES
from fabscore.training.evidence.pairs import Pair

CLAIM_KINDS = ("entity", "number", "date", "speaker")  # corruptions that change one claim
MIN_PRECISION = 0.9  # claim level: recall is reported at this precision or more


def claim_rows(pairs: list[Pair], checked, support: np.ndarray, claim_cut: float, restated: bool = False) -> dict:
    """The claims evidence mode judges, as arrays: `y` (1 = changed by a corruption), `flagged`
    (`supported: false` in the records: annotate.claim_supported at claim_cut), `lost` (words
    not in the top-k evidence), `off_best` (found, but not in the best evidence sentence),
    `doubt` (1 - the sentence's support), and `missed` (changed spans spaCy does not extract
    as a claim: positives never recalled). Positives: a corrupted pair's claim
    over the changed characters (entity, number, date, speaker); negatives: every claim of an
    original, and with `restated` also every claim of a restated rewrite sentence (a harder,
    noisier negative: rewrites also add details their source does not have)."""
    y, flagged, lost, off_best, doubts, missed = [], [], [], [], [], 0

    def add(label: int, claims: list[tuple[bool, bool]], sentence_support: float) -> None:
        """One judged claim; a changed span covered by several claims is flagged when any is."""
        y.append(label)
        flagged.append(not all(claim_supported(ok, best, sentence_support, claim_cut) for ok, best in claims))
        lost.append(not all(ok for ok, _ in claims))
        off_best.append(not lost[-1] and not all(best for _, best in claims))
        doubts.append(1.0 - sentence_support)

    for n, p in enumerate(pairs):
        triples = list(zip(checked.claims[n], checked.supported[n], checked.in_best[n]))
        if p.kind == "original" or (restated and p.kind == "restated"):
            for _, ok, best in triples:
                add(0, [(ok, best)], float(support[n]))
        elif p.kind in CLAIM_KINDS and p.span:
            hit = [(ok, best) for c, ok, best in triples if c.start < p.span[1] and p.span[0] < c.end]
            if hit:
                add(1, hit, float(support[n]))
            else:
                missed += 1
    return {"y": np.array(y, dtype=int), "flagged": np.array(flagged, dtype=bool), "lost": np.array(lost, dtype=bool),
            "off_best": np.array(off_best, dtype=bool), "doubt": np.array(doubts, dtype=float), "missed": missed}


def claim_scores(pairs: list[Pair], checked, support: np.ndarray, claim_cut: float,
                 min_precision: float = MIN_PRECISION, restated: bool = False) -> dict:
    """Claim-level recall and precision of finding the changed claims (see claim_rows). As
    shipped: a claim is `supported: false` when its words are not in the evidence, or they are
    but not in the best evidence sentence and the sentence's support is at or below claim_cut
    (annotate.claim_supported). Also: words not found alone, and over the ranking score
    lost + off_best * doubt (the shipped rule is its threshold 1 - claim_cut) the highest
    recall at precision >= min_precision and the threshold of best F1. Recall counts the
    changed claims spaCy did not extract as misses."""
    r = claim_rows(pairs, checked, support, claim_cut, restated)
    y, lost, off_best, doubt, missed = r["y"], r["lost"], r["off_best"], r["doubt"], r["missed"]
    score = lost + off_best * doubt
    n_pos = int(y.sum()) + missed

    def at(flag: np.ndarray, threshold: float | None = None) -> dict:
        tp, fp = int((flag & (y == 1)).sum()), int((flag & (y == 0)).sum())
        out = {"recall": tp / max(n_pos, 1), "precision": tp / (tp + fp) if tp + fp else None,
               "false_flags": fp}
        return out if threshold is None else {"threshold": threshold, **out}

    shipped = at(r["flagged"])
    best_f1, at_precision = None, None
    if y.any():
        precision, recall, thresholds = precision_recall_curve(y, score)
        # strictest threshold first, so ties go to it; recall also counts the claims never extracted
        precision, recall, thresholds = precision[-2::-1], recall[-2::-1] * y.sum() / n_pos, thresholds[::-1]
        f1 = np.where(recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
        best = int(np.argmax(f1))
        best_f1 = {**at(score >= thresholds[best], float(thresholds[best])), "f1": float(f1[best])}
        ok = np.flatnonzero(precision >= min_precision)
        if len(ok):
            j = ok[int(np.argmax(recall[ok]))]
            at_precision = at(score >= thresholds[j], float(thresholds[j]))
    return {**shipped, "claim_support_cut": claim_cut, "not_found_only": at(lost), "min_precision": min_precision,
            "negatives": "originals and restated rewrites" if restated else "originals",
            "recall_at_precision": at_precision or {"threshold": None, "recall": 0.0, "precision": None},
            "best_f1": best_f1, "n_corrupted_claims": n_pos, "n_not_extracted": missed,
            "n_negative_claims": int((y == 0).sum())}


def evaluate(pairs: list[Pair], support: np.ndarray, checked, claim_cut: float) -> dict:
    """The held-out evidence metrics: per corruption type the sentence-level AUROC of support
    (that type vs the originals) and its share below the support cut, the natural rewrites'
    AUROC (inserted vs restated sentences) and the claim-level scores."""
    y = np.array([p.label for p in pairs])
    kinds = np.array([p.kind for p in pairs])
    orig = kinds == "original"
    per_type = {}
    for t in TYPES:
        m = kinds == t
        if m.any():
            sel = orig | m
            per_type[t] = {"auroc": auroc(y[sel], support[sel]), "n": int(m.sum()),
                           "share_unsupported": float((support[m] < 0.5).mean())}
    nat = np.isin(kinds, ["inserted", "restated"])
    return {"corruption_auroc": per_type, "n_originals": int(orig.sum()),
            "originals_share_supported": float((support[orig] >= 0.5).mean()) if orig.any() else None,
            "natural_auroc": auroc(y[nat], support[nat]),
            "natural_n": {"inserted": int((kinds == "inserted").sum()), "restated": int((kinds == "restated").sum())},
            "claim_level": claim_scores(pairs, checked, support, claim_cut),
            "claim_level_with_restated": claim_scores(pairs, checked, support, claim_cut, restated=True)}


def claim_support_cut(pairs: list[Pair], checked, support: np.ndarray) -> tuple[float, dict]:
    """The sentence support at or below which a claim found in the evidence, but not in its
    best sentence, is not vouched for: the threshold of best F1 on (out-of-fold) training pairs,
    with the claims of restated rewrites among the negatives (with the originals alone, which
    the pool holds verbatim, every cut looks precise and the highest would win)."""
    scores = claim_scores(pairs, checked, support, claim_cut=0.0, restated=True)
    t = (scores["best_f1"] or {}).get("threshold")
    cut = 0.0 if t is None or t >= 1.0 else round(1.0 - float(t), 4)
    return cut, scores
