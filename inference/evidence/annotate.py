"""Evidence fields of a scored record: each sentence checked against the evidence index.

Adds per sentence `support`, `status`, `claims`, `evidence`, and per article
`evidence_summary`. A claim is `found` when its words occur in the retrieved
evidence; it is `supported` when it is found, and either found in the best
evidence sentence itself or its sentence's support is above the consistency
head's claim cut. So a name swapped in for another, which also occurs somewhere
else in the evidence, is not vouched for when the sentence around it disagrees
with its nearest evidence. Both are null when nothing relevant was retrieved.
Without evidence the same fields are there, null or empty, so every record has one shape.
The writing score and label are never touched:
the two signals sit side by side.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fabscore.evidence.checker import SUPPORT_CUT, Checker
from fabscore.evidence.claims import Claim, extract
from fabscore.evidence.features import pair_features
from fabscore.evidence.index import EvidenceIndex, encode
from fabscore.text.normalize import normalize
from fabscore.text.sentences import Article

N_SHOWN = 3  # evidence sentences shown per checked sentence


@dataclass
class Checked:
    """The features and retrieval of a batch of sentences (what training and scoring share)."""

    X: np.ndarray  # (n, len(FEATURES))
    claims: list[list[Claim]]  # offsets into each sentence
    supported: list[list[bool]]  # each claim's words found in the top-k evidence
    in_best: list[list[bool]]  # ... and in the best evidence sentence alone
    sims: np.ndarray  # (n, k) cosines, best first
    idx: np.ndarray  # (n, k) evidence sentence indices


def check_sentences(texts: Sequence[str], index: EvidenceIndex, top_k: int, nlp=None,
                    vectors: np.ndarray | None = None) -> Checked:
    """Retrieve each sentence's top-k evidence, extract its claims, compute the pair features.
    vectors: the sentences' embeddings when the caller has them already."""
    q = encode([normalize(t) for t in texts]) if vectors is None else vectors
    sims, idx = index.search(q, top_k)
    claims = extract(list(texts), nlp)
    rows, supported, in_best = [], [], []
    for t, c, s, i in zip(texts, claims, sims, idx):
        x, ok, best = pair_features(t, c, [index.sentences[j].text for j in i], s)
        rows.append(x)
        supported.append(ok)
        in_best.append(best)
    return Checked(np.array(rows).reshape(len(texts), -1), claims, supported, in_best, sims, idx)


def claim_supported(found: bool, in_best: bool, support: float, claim_support_cut: float) -> bool:
    """The records' claim rule: found in the evidence, and either in the best evidence sentence
    or in a sentence the consistency head backs (support above the claim cut)."""
    return bool(found and (in_best or support > claim_support_cut))


@dataclass
class EvidenceCheck:
    """An evidence index and the consistency head that judges sentences against it."""

    index: EvidenceIndex
    checker: Checker

    def __call__(self, record: dict, article: Article | None) -> dict:
        return annotate(record, article, self.index, self.checker)


def blank(record: dict) -> dict:
    """The evidence fields, empty: no evidence was given."""
    for s in record.get("sentences") or []:
        s.update(support=None, status=None, claims=[], evidence=[])
    record["evidence_summary"] = None
    return record


def annotate(record: dict, article: Article | None, index: EvidenceIndex | None,
             checker: Checker | None) -> dict:
    """Add the evidence fields to a record (ArticleScore.as_dict) of `article`, in place.
    With no index, the fields are null/empty. Only the record's own sentences are checked."""
    if index is None or checker is None or article is None:
        return blank(record)
    rec_sents = record.get("sentences") or []
    by_span = {(s.start, s.end): s for s in article.sentences}
    pairs = [(r, by_span[(r["start"], r["end"])]) for r in rec_sents if (r["start"], r["end"]) in by_span]
    blank(record)
    if not pairs:
        record["evidence_summary"] = {"n_sentences_checked": 0, "n_unsupported": 0, "n_no_evidence": 0,
                                      "min_support": None}
        return record
    checked = check_sentences([s.text for _, s in pairs], index, checker.top_k)
    support = checker.head.predict_proba(checked.X)[:, 1]
    cut = checker.relevance_cut(len(index))
    for n, (rec, sent) in enumerate(pairs):
        sims, idx = checked.sims[n], checked.idx[n]
        relevant = len(sims) > 0 and sims[0] >= cut
        shown = [j for j, s in zip(idx, sims) if s >= cut][:N_SHOWN] if relevant else list(idx[:1])
        rec["evidence"] = [{**index.sentences[j].as_dict(), "similarity": round(float(s), 4)}
                           for j, s in zip(idx, sims) if j in shown]
        rec["claims"] = [{"start": sent.start + c.start, "end": sent.start + c.end, "text": c.text, "kind": c.kind,
                          "supported": claim_supported(ok, best, support[n], checker.claim_support_cut)
                          if relevant else None,
                          "found": bool(ok) if relevant else None}
                         for c, ok, best in zip(checked.claims[n], checked.supported[n], checked.in_best[n])]
        if relevant:
            rec["support"] = round(float(support[n]), 6)
            rec["status"] = "supported" if support[n] >= SUPPORT_CUT else "unsupported"
        else:
            rec["status"] = "no_evidence"
    got = [r["support"] for r, _ in pairs if r["support"] is not None]
    record["evidence_summary"] = {
        "n_sentences_checked": len(pairs),
        "n_unsupported": sum(r["status"] == "unsupported" for r, _ in pairs),
        "n_no_evidence": sum(r["status"] == "no_evidence" for r, _ in pairs),
        "min_support": min(got) if got else None,
    }
    return record


def resolve_evidence(evidence, model=None, on_error=None, paths: bool = False,
                     progress: bool = False) -> EvidenceCheck:
    """An EvidenceCheck from what the user gave: an EvidenceCheck, an EvidenceIndex, an index
    directory, or a list of texts/paths (indexed on the fly; strings are paths when they all
    exist or `paths` says so, as on the command line); the head from the model directory.
    progress: show on-the-fly indexing on stderr."""
    import os

    from fabscore.evidence.checker import load_checker
    from fabscore.evidence.index import build, build_from_texts, load

    if isinstance(evidence, EvidenceCheck):
        return evidence
    checker = load_checker(model)
    if isinstance(evidence, EvidenceIndex):
        return EvidenceCheck(evidence, checker)
    if isinstance(evidence, (str, os.PathLike)):
        evidence = [evidence]
    evidence = list(evidence)
    if len(evidence) == 1 and os.path.isdir(evidence[0]) and os.path.isfile(os.path.join(evidence[0], "index.json")):
        return EvidenceCheck(load(evidence[0]), checker)
    if paths or (evidence and all(isinstance(e, (str, os.PathLike)) and os.path.exists(e) for e in evidence)):
        return EvidenceCheck(build(evidence, on_error=on_error, progress=progress), checker)
    return EvidenceCheck(build_from_texts([str(e) for e in evidence]), checker)
