"""The detector: a plain function from texts to calibrated scores, with reasons.

Per article: `score` (calibrated probability of machine-written / fabricated
text), `label` (fabricated / human / abstain) at the threshold for a target
false-positive rate, and `sentences` with offsets into the text given and
their own scores, so a reader sees which sentences drive the verdict: in an article labelled
fabricated, its (up to 3) highest sentences at or above `driver_threshold` are marked `driver`,
and `why` says in one line why the article got its label (see fabscore.io.records).

    det = load_detector()            # the shipped default model
    det.score(texts, fpr=0.05)       # one record per text (a str is one text)
    det.predict_proba(texts)         # (n, 2): [P(human), P(machine)], NaN rows where it abstains
    det(texts)                       # (n,): P(machine), NaN where it abstains
    det.check(claims, evidence=refs) # evidence mode on any text, a one-line claim included

Scores are remembered per text (a small LRU keyed by the text's sha256), so
asking again, or at another FPR, does not run the backbones again.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from fabscore.engines.plan import Plan, plan
from fabscore.features.featurize import featurize, stack
from fabscore.io.records import DRIVER_FPR, build_record, error_result, explain, pick_drivers, round6
from fabscore.models import directory as md
from fabscore.models.backbones import resolve_device
from fabscore.text.language import english_reason
from fabscore.text.sentences import Article, chunks, prepare

Featurizer = Callable[[Article, tuple[str, ...]], dict[str, np.ndarray]]
# (detector, texts, their ids, fpr, plan) -> one record per text, in order
Parallel = Callable[["Detector", list, list[str], "float | None", Plan], list[dict]]

LABELS = ("fabricated", "human", "abstain")
CACHE_SIZE = 256  # texts whose scores are remembered
LONG_CHUNKS = 25  # a text of this many chunks (5,000 words) or more shows its own progress when asked


@dataclass
class SentenceScore:
    start: int
    end: int
    text: str
    score: float
    flagged: bool
    driver: bool = False  # one of the sentences that drive a fabricated verdict

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text,
                "score": round6(self.score), "flagged": self.flagged, "driver": self.driver}


@dataclass
class ArticleScore:
    score: float | None
    label: str
    threshold: float
    target_fpr: float
    n_words: int
    sentences: list[SentenceScore] = field(default_factory=list)
    reason: str | None = None  # why the detector abstained
    sentence_threshold: float | None = None
    driver_threshold: float | None = None  # the bar a driver sentence reaches (records.DRIVER_FPR)
    article: Article | None = field(default=None, repr=False, compare=False)  # the prepared text (not in the record)

    @property
    def drivers(self) -> list[int]:
        """Positions of the driver sentences, in text order."""
        return [i for i, s in enumerate(self.sentences) if s.driver]

    @property
    def why(self) -> str | None:
        """One line: why this label, in words that agree with the numbers (records.explain)."""
        bar = self.driver_threshold
        return explain(self.label, len(self.sentences), sum(s.flagged for s in self.sentences),
                       0 if bar is None else sum(s.score >= bar for s in self.sentences), bar, self.reason)

    def as_dict(self) -> dict:
        return {"score": round6(self.score), "label": self.label, "threshold": round6(self.threshold),
                "sentence_threshold": round6(self.sentence_threshold),
                "driver_threshold": round6(self.driver_threshold), "target_fpr": self.target_fpr,
                "n_words": self.n_words, "reason": self.reason, "why": self.why, "drivers": self.drivers,
                "sentences": [s.as_dict() for s in self.sentences]}


@dataclass(frozen=True)
class _Scored:
    """What the backbones and heads say about a text, before any threshold."""

    n_words: int
    reason: str | None
    score: float | None
    sentences: tuple[tuple[int, int, str, float], ...] = ()
    article: Article | None = field(default=None, repr=False, compare=False)  # kept for evidence mode


def _one_text(texts) -> bool:
    """A str (or bytes, or any non-iterable) is one text, never a sequence of characters."""
    return isinstance(texts, (str, bytes, bytearray)) or not isinstance(texts, Iterable)


class Detector:
    """Scores articles with one model directory; backbones load once per process.

    device: cpu (default), cuda or mps, else FABSCORE_DEVICE; featurizer and preparer
    replace how an Article's features are computed and how a text is prepared; workers: worker
    processes `score` uses by default (1: this process; 'auto' or N as `fabscore score --workers`);
    parallel: how score() runs texts on worker processes (fabscore.load_detector gives the command
    line's local engine: engines.local.score_texts)."""

    def __init__(self, model: md.ModelDir, fpr: float | None = None, featurizer: Featurizer | None = None,
                 preparer: Callable[[str], Article] | None = None, device: str | None = None,
                 cache_size: int = CACHE_SIZE, workers: int | str = 1, parallel: Parallel | None = None):
        self.model = model
        self.device = resolve_device(device)
        self.workers = workers
        self.parallel = parallel
        self.progress = False  # show progress on stderr while scoring a long text (the command line sets it)
        self._own_featurizer = featurizer is None and preparer is None
        self.featurizer = featurizer or partial(featurize, encoder=model.encoder, device=self.device)
        self.preparer = preparer or prepare
        self.chunk_words = int(model.config["chunk_words"])
        self.fpr = float(fpr if fpr is not None else model.config.get("default_fpr", 0.01))
        self.threshold, self.sentence_threshold = self.thresholds(self.fpr)
        self.min_words = int(model.config.get("min_words", 0))
        self._cache: OrderedDict[str, _Scored] = OrderedDict()
        self.cache_size = cache_size

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.model.kinds

    @property
    def model_id(self) -> dict:
        return {"name": self.model.name, "path": str(self.model.path), "sha256": self.model.manifest_sha256}

    def thresholds(self, fpr: float) -> tuple[float, float | None]:
        """(article threshold, sentence threshold or None) stored for a target FPR; ValueError if none is."""
        article = self.model.threshold(fpr)  # first, so a missing FPR is named at the article level
        return article, self.model.threshold(fpr, "sentence") if self.model.thresholds("sentence") else None

    def driver_threshold(self, fpr: float) -> float | None:
        """The score a driver sentence must reach at target FPR `fpr`: the stored sentence threshold
        for records.DRIVER_FPR (else for the largest stored rate under it, else the smallest stored),
        and never above the flag threshold at `fpr`, so every flagged sentence can be a driver.
        None when the model scores no sentences."""
        table = self.model.thresholds("sentence")
        if not table:
            return None
        under = [f for f in table if f <= DRIVER_FPR + 1e-12]
        bar = table[max(under)] if under else table[min(table)]
        flag = self.thresholds(fpr)[1]
        return bar if flag is None else min(bar, flag)

    # ------------------------------------------------------------ scoring
    def _scored(self, text: str) -> _Scored:
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        result = self._compute(text)
        self._cache[key] = result
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def _compute(self, text: str) -> _Scored:
        article = self.preparer(text)
        words = article.n_words
        not_english = english_reason(article.norm)
        if not_english and "script" in not_english:  # say so before "too short": CJK has no spaces
            return _Scored(words, not_english, None, article=article)
        if words < self.min_words:
            return _Scored(words, f"too short: {words} words, at least {self.min_words} needed", None,
                           article=article)
        if not_english:
            return _Scored(words, not_english, None, article=article)
        score, sentences = self._score_chunks(chunks(article, self.chunk_words))
        return _Scored(words, None, score, tuple(sentences), article)

    def _score_chunks(self, pieces: list[Article]) -> tuple[float, list[tuple[int, int, str, float]]]:
        """Word-weighted mean of the chunks' head decisions, calibrated once;
        each sentence scored with the features of its own chunk's passes."""
        from fabscore.io.progress import progress_bar

        decisions, weights, sentences = [], [], []
        head_art, head_sent = self.model.article_head, self.model.sentence_head
        words = sum(p.n_words for p in pieces)
        quiet = not (self.progress and len(pieces) >= LONG_CHUNKS)
        with progress_bar(f"scoring a {words:,}-word text", len(pieces), unit="chunk", quiet=quiet) as advance:
            for piece in pieces:
                x_art, x_sent = stack(self.featurizer(piece, self.kinds), self.kinds)
                decisions.append(float(head_art.decision_function(x_art[None])[0]))
                weights.append(piece.n_words)
                if head_sent is not None and len(x_sent):
                    sentences += [(s.start, s.end, s.text, float(p))
                                  for s, p in zip(piece.sentences, head_sent.predict_proba(x_sent)[:, 1])]
                advance(1)
        z = float(np.average(decisions, weights=weights))
        return float(head_art.calibrate(z)), sentences

    def score_one(self, text: str, fpr: float | None = None) -> ArticleScore:
        """One text's score, label at the threshold of `fpr` (default: the detector's), and sentences."""
        fpr = self.fpr if fpr is None else float(fpr)
        threshold, sent_threshold = self.thresholds(fpr)
        bar = self.driver_threshold(fpr)
        s = self._scored(text)
        common = dict(threshold=threshold, sentence_threshold=sent_threshold, driver_threshold=bar, target_fpr=fpr,
                      n_words=s.n_words, article=s.article)
        if s.score is None:
            return ArticleScore(score=None, label="abstain", reason=s.reason, **common)
        label = "fabricated" if s.score >= threshold else "human"
        drivers = pick_drivers([p for *_, p in s.sentences], label, bar)
        sentences = [SentenceScore(a, b, t, p, sent_threshold is not None and p >= sent_threshold, i in drivers)
                     for i, (a, b, t, p) in enumerate(s.sentences)]
        return ArticleScore(score=s.score, label=label, sentences=sentences, **common)

    def record(self, text: object, *, path: str | None = None, id: str | None = None, fpr: float | None = None,
               error: str | None = None, text_field: str | None = None, fields: dict | None = None,
               check=None) -> dict:
        """The full record of one input, exactly as `fabscore score` writes it. A non-string
        text, a read error (`error`) or a failure while scoring becomes an error record.
        check: an evidence check (`evidence_check`): every sentence of the text also gets support,
        status, claims and evidence, beside the writing score, which evidence never changes (a text
        the writing model abstains on is checked too: its sentences come with score null)."""
        fpr = self.fpr if fpr is None else float(fpr)
        if error is None and not isinstance(text, str):
            error = f"not a string: got {type(text).__name__}"
        result = None
        if error is None:
            try:
                scored = self.score_one(text, fpr)
                result = scored.as_dict()
                if check is not None:  # the Article the score was computed from: not prepared twice
                    result = check(result, scored.article if scored.article is not None else self.preparer(text))
            except Exception as e:  # noqa: BLE001 - MemoryError, a featurizer bug: this input fails, the batch goes on
                error = f"scoring failed: {type(e).__name__}: {e}"
        if result is None:
            result = error_result(*self.thresholds(fpr), fpr, self.driver_threshold(fpr))
        return build_record(result, path=path, id=id, model=self.model_id, error=error, text_field=text_field,
                            fields=fields)

    # ------------------------------------------------------------ the Python API
    def score(self, texts, fpr: float | None = None, ids: list[str] | None = None, evidence=None,
              workers: int | str | None = None) -> list[dict]:
        """One record per text, in the order given (keys: records.RECORD_KEYS; path None, id the
        position or `ids[i]`). A single str is one text and gives a list of one record. evidence:
        an evidence index, an index directory, or reference texts/paths (see `evidence_check`).
        workers: worker processes for this call (default: the detector's), 'auto' or N as
        `fabscore score --workers`, through the same pool: the records are the same bit for bit.
        Evidence mode checks in this process, as the command line does."""
        texts = [texts] if _one_text(texts) else list(texts)
        if fpr is not None:
            self.thresholds(float(fpr))  # an FPR with no stored threshold fails the call, before any work
        keys = [str(i) if ids is None else str(ids[i]) for i in range(len(texts))]
        n = plan(self.workers if workers is None else workers)
        if n.workers and evidence is None:
            if self.parallel is None:
                raise ValueError("workers: this detector cannot start worker processes; make it with "
                                 "fabscore.load_detector(..., workers=N)")
            if not self._own_featurizer or self.device != "cpu":
                raise ValueError("workers score with the model's own featurizer on the CPU: this detector has "
                                 "its own featurizer, preparer or device; score it with workers=1")
            return self.parallel(self, texts, keys, fpr, n)
        check = None if evidence is None else self.evidence_check(evidence)
        return [self.record(t, id=k, fpr=fpr, check=check) for t, k in zip(texts, keys)]

    def check(self, texts, evidence, fpr: float | None = None, ids: list[str] | None = None) -> list[dict]:
        """Check claims (any text, whatever its length) against evidence: one claim record per text
        (records.claim_record: the claim, its status and lowest support, each sentence's status,
        claims and evidence, the evidence summary, and `writing` only where the text was long enough
        for a writing score). An empty or blank text is an error record ("empty claim"), never a
        guess; a text in another language is not checked (evidence_summary.reason says why).
        evidence: as for `score` (an index, its directory, reference texts or paths, or an
        evidence_check). `fabscore check` writes the same records."""
        from fabscore.io.records import claim_record

        texts = [texts] if _one_text(texts) else list(texts)
        return [claim_record(r, t) for r, t in zip(self.check_records(texts, evidence, fpr, ids), texts)]

    def check_records(self, texts, evidence, fpr: float | None = None, ids: list[str] | None = None) -> list[dict]:
        """What `check` is made from: `score`'s full records of the texts, with every sentence checked
        (the HTML report renders these)."""
        if evidence is None:
            raise ValueError("check needs evidence: an index, an index directory, or reference texts or paths")
        texts = [texts] if _one_text(texts) else list(texts)
        if fpr is not None:
            self.thresholds(float(fpr))
        keys = [str(i) if ids is None else str(ids[i]) for i in range(len(texts))]
        check = self.evidence_check(evidence)
        return [self.record(t, id=k, fpr=fpr, check=check,
                            error="empty claim: nothing to check" if isinstance(t, str) and not t.strip() else None)
                for t, k in zip(texts, keys)]

    def evidence_check(self, evidence):
        """Evidence mode (fabscore.evidence): an EvidenceCheck (index + this model's consistency
        head) from an index, an index directory, or a list of reference texts or paths."""
        from fabscore.evidence import resolve_evidence

        return resolve_evidence(evidence, self.model)

    def __call__(self, texts) -> np.ndarray:
        """P(machine-written) per text, NaN where the detector abstains or the input is bad:
        a detector as a plain function from texts to scores (RAID's interface)."""
        return np.array([np.nan if r["score"] is None else r["score"] for r in self.score(texts)], dtype=float)

    def predict_proba(self, texts) -> np.ndarray:
        """(n, 2) array of [P(human), P(machine)] (scikit-learn's convention), NaN rows where it abstains."""
        p = self(texts)
        return np.column_stack([1.0 - p, p])
