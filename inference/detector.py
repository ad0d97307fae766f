"""The detector: a plain function from texts to calibrated scores, with reasons.

Per article: `score` (calibrated probability of machine-written / fabricated
text), `label` (fabricated / human / abstain) at the threshold for a target
false-positive rate, and `sentences` with offsets into the text given and
their own scores, so a reader sees which sentences drive the verdict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import model_dir as md
from .features.featurize import featurize, stack
from .language import english_reason
from .text import Article, chunks, prepare

Featurizer = Callable[[Article, tuple[str, ...]], dict[str, np.ndarray]]

LABELS = ("fabricated", "human", "abstain")


@dataclass
class SentenceScore:
    start: int
    end: int
    text: str
    score: float
    flagged: bool

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text,
                "score": round(self.score, 6), "flagged": self.flagged}


@dataclass
class ArticleScore:
    score: float | None
    label: str
    threshold: float
    target_fpr: float
    n_words: int
    sentences: list[SentenceScore] = field(default_factory=list)
    reason: str | None = None  # why the detector abstained

    def as_dict(self) -> dict:
        return {"score": None if self.score is None else round(self.score, 6), "label": self.label,
                "threshold": round(self.threshold, 6), "target_fpr": self.target_fpr, "n_words": self.n_words,
                "reason": self.reason, "sentences": [s.as_dict() for s in self.sentences]}


class Detector:
    """Scores articles with one model directory; backbones load once per process."""

    def __init__(self, model: md.ModelDir, fpr: float | None = None, featurizer: Featurizer | None = None,
                 preparer: Callable[[str], Article] | None = None):
        self.model = model
        self.featurizer = featurizer or partial(featurize, encoder=model.encoder)
        self.preparer = preparer or prepare
        self.chunk_words = int(model.config["chunk_words"])
        self.fpr = float(fpr if fpr is not None else model.config.get("default_fpr", 0.01))
        self.threshold = model.threshold(self.fpr)
        self.sentence_threshold = model.threshold(self.fpr, "sentence") if model.thresholds("sentence") else None
        self.min_words = int(model.config.get("min_words", 0))

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.model.kinds

    @property
    def model_id(self) -> dict:
        return {"name": self.model.name, "path": str(self.model.path), "sha256": self.model.manifest_sha256}

    def score_one(self, text: str, article: Article | None = None) -> ArticleScore:
        article = article if article is not None else self.preparer(text)
        words = article.n_words
        abstain = dict(score=None, label="abstain", threshold=self.threshold, target_fpr=self.fpr, n_words=words)
        not_english = english_reason(article.norm)
        if not_english and "script" in not_english:  # say so before "too short": CJK has no spaces
            return ArticleScore(**abstain, reason=not_english)
        if words < self.min_words:
            return ArticleScore(**abstain, reason=f"too short: {words} words, at least {self.min_words} needed")
        if not_english:
            return ArticleScore(**abstain, reason=not_english)
        score, sentences = self._score_chunks(chunks(article, self.chunk_words))
        label = "fabricated" if score >= self.threshold else "human"
        return ArticleScore(score=score, label=label, threshold=self.threshold, target_fpr=self.fpr,
                            n_words=words, sentences=sentences)

    def _score_chunks(self, pieces: list[Article]) -> tuple[float, list[SentenceScore]]:
        """Word-weighted mean of the chunks' head decisions, calibrated once;
        each sentence scored with the features of its own chunk's passes."""
        decisions, weights, sentences = [], [], []
        head_art, head_sent = self.model.article_head, self.model.sentence_head
        for piece in pieces:
            x_art, x_sent = stack(self.featurizer(piece, self.kinds), self.kinds)
            decisions.append(float(head_art.decision(x_art[None])[0]))
            weights.append(piece.n_words)
            if head_sent is not None and len(x_sent):
                for s, p in zip(piece.sentences, head_sent.predict_proba(x_sent)):
                    sentences.append(SentenceScore(s.start, s.end, s.text, float(p), bool(p >= self.sentence_threshold)))
        z = float(np.average(decisions, weights=weights))
        return float(head_art.calibrate(z)), sentences

    def score(self, texts: Sequence[str] | str, evidence=None) -> list[dict]:
        """One result dict per text (see ArticleScore.as_dict). evidence: an evidence index,
        an index directory, or reference texts/paths; each sentence is then checked against it
        (fabscore.evidence), beside the writing score, which evidence never changes."""
        if isinstance(texts, str):
            texts = [texts]
        check = None if evidence is None else self.evidence_check(evidence)
        return [self.score_text(t, check) for t in texts]

    # ---- evidence mode (fabscore.evidence): one place where records get the evidence fields
    def evidence_check(self, evidence):
        """An EvidenceCheck (index + this model's consistency head) from what the user gave."""
        from .evidence import resolve_evidence

        return resolve_evidence(evidence, self.model)

    def score_text(self, text: str, check=None) -> dict:
        """score_one's dict plus the evidence fields (null/empty when check is None)."""
        from .evidence import blank

        if check is None:
            return blank(self.score_one(text).as_dict())
        article = self.preparer(text)
        return check(self.score_one(text, article).as_dict(), article)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Article scores only, NaN where the detector abstains (RAID's texts -> scores)."""
        return np.array([np.nan if r.score is None else r.score for r in map(self.score_one, texts)])


def load_detector(path: str | Path | None = None, fpr: float | None = None) -> Detector:
    """The detector of a model directory (None: the default model shipped in the package)."""
    return Detector(md.load(path), fpr=fpr)
