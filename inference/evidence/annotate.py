"""Evidence fields of a record: every sentence of the text checked against the evidence index.

Every sentence of the input is checked, whatever the writing score did with it: a text too
short for the writing model (a claim, a headline) still gets its sentences, with score null and
flagged false. Each sentence gets `support` (the consistency head's calibrated probability),
`status`, `claims` (each with a `verdict`) and `evidence` (the nearest reference sentences); the
record gets `evidence_summary`. verdicts.py defines the statuses and verdicts. A text in another
language is not checked (its summary says why): matching its words against English references
would be a guess. Without evidence the same fields are there, null or empty, so every record has
one shape. The writing score and label are never touched: the two signals sit side by side.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fabscore.evidence import verdicts as V
from fabscore.evidence.checker import Checker
from fabscore.evidence.claims import Claim, extract, key_tokens
from fabscore.evidence.features import pair_features
from fabscore.evidence.index import EvidenceIndex, encode
from fabscore.text.normalize import normalize
from fabscore.text.sentences import Article

N_SHOWN = 3  # evidence sentences shown per checked sentence
BLOCK = 256  # sentences checked at once: a very long text is checked a block at a time, in bounded memory
ARTICLE_CACHE = 512  # reference articles whose key tokens are kept (each a set of a few hundred words)
SENTENCE_CACHE = 8192  # evidence sentences whose key tokens / claims are kept


@dataclass
class Checked:
    """The features and retrieval of a batch of sentences (what training and scoring share)."""

    X: np.ndarray  # (n, len(FEATURES))
    claims: list[list[Claim]]  # spaCy's claims, offsets into each sentence
    supported: list[list[bool]]  # each claim's words found in the top-k evidence
    in_best: list[list[bool]]  # ... and in the best evidence sentence alone
    sims: np.ndarray  # (n, k) cosines, best first
    idx: np.ndarray  # (n, k) evidence sentence indices


def check_sentences(texts: Sequence[str], index: EvidenceIndex, top_k: int, nlp=None,
                    vectors: np.ndarray | None = None, rows: np.ndarray | None = None) -> Checked:
    """Retrieve each sentence's top-k evidence, extract its claims, compute the pair features.
    vectors: the sentences' embeddings when the caller has them already. rows: (n, k) index rows
    to check each sentence against instead of searching (an evaluation whose pairs name their
    evidence)."""
    q = encode([normalize(t) for t in texts]) if vectors is None else vectors
    if rows is None:
        sims, idx = index.search(q, top_k)
    else:
        idx = np.asarray(rows, dtype=np.int64)
        sims = np.einsum("nd,nkd->nk", q, index.vectors[idx].astype(np.float32))
    claims = extract(list(texts), nlp)
    rows_x, supported, in_best = [], [], []
    for t, c, s, i in zip(texts, claims, sims, idx):
        x, ok, best = pair_features(t, c, [index.sentences[j].text for j in i], s)
        rows_x.append(x)
        supported.append(ok)
        in_best.append(best)
    X = np.array(rows_x).reshape(len(texts), -1)
    return Checked(X, claims, supported, in_best, sims, idx)


class _LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return value


@dataclass
class SentenceCheck:
    """One sentence checked: what the record shows of it."""

    support: float | None  # None with no_evidence
    status: str
    claims: list[V.ClaimVerdict]  # verdict None (unchecked) with no_evidence
    evidence: list[tuple[int, int, float]]  # shown: (rank among the retrieved, sentence index, cosine), best first
    negation_at: int | None = None  # the evidence sentence restating it with the opposite negation


@dataclass
class EvidenceCheck:
    """An evidence index, the consistency head that judges sentences against it, and the caches the
    verdict rules read (reference articles' key tokens, evidence sentences' tokens and claims)."""

    index: EvidenceIndex
    checker: Checker
    _articles: _LRU = field(default_factory=lambda: _LRU(ARTICLE_CACHE), repr=False)
    _tokens: _LRU = field(default_factory=lambda: _LRU(SENTENCE_CACHE), repr=False)
    _claims: _LRU = field(default_factory=lambda: _LRU(SENTENCE_CACHE), repr=False)

    def __call__(self, record: dict, article: Article | None) -> dict:
        return annotate(record, article, self)

    pool_size: int | None = None  # the pool the relevance cut is for, when each sentence's is not the whole index

    @property
    def relevance_cut(self) -> float:
        return self.checker.relevance_cut(self.pool_size or len(self.index))

    def sentence_tokens(self, j: int) -> set[str]:
        return self._tokens.get_or(int(j), lambda: set(key_tokens(self.index.sentences.texts[j])))

    def article_tokens(self, a: int) -> set[str]:
        """Key tokens of the whole reference article number a (every sentence the index holds of it)."""
        table = self.index.sentences
        return self._articles.get_or(int(a), lambda: {t for r in table.article_rows(a)
                                                      for t in key_tokens(table.texts[r])})

    def evidence_claims(self, rows) -> dict[int, list[Claim]]:
        """spaCy's claims of these evidence sentences, extracted in one batch for those not cached."""
        rows = sorted({int(j) for j in rows})
        todo = [j for j in rows if j not in self._claims]
        got = dict(zip(todo, extract([self.index.sentences.texts[j] for j in todo]))) if todo else {}
        out = {}
        for j in rows:
            out[j] = self._claims.get_or(j, lambda j=j: got.get(j) or extract([self.index.sentences.texts[j]])[0])
        return out

    def check(self, texts: Sequence[str], norms: Sequence[str] | None = None,
              checked: Checked | None = None) -> list[SentenceCheck]:
        """Check sentences, BLOCK at a time (norms: their normalized forms, when the caller has them;
        checked: their check_sentences against this index, when the caller has it: training has)."""
        if checked is not None:
            return self._check_block(list(texts), None, checked)
        out = []
        for b in range(0, len(texts), BLOCK):
            part = list(texts[b:b + BLOCK])
            vectors = encode(list(norms[b:b + BLOCK]) if norms is not None else [normalize(t) for t in part])
            out += self._check_block(part, vectors)
        return out

    def _check_block(self, texts: list[str], vectors: np.ndarray | None,
                     checked: Checked | None = None) -> list[SentenceCheck]:
        table = self.index.sentences
        cut = self.relevance_cut
        if checked is None:
            checked = check_sentences(texts, self.index, self.checker.top_k, vectors=vectors)
        support = self.checker.head.predict_proba(checked.X)[:, 1] if len(texts) else np.zeros(0)
        out: list[SentenceCheck] = []
        for n, text in enumerate(texts):
            sims, idx = checked.sims[n], checked.idx[n]
            relevant = bool(len(sims)) and float(sims[0]) >= cut
            arts: set[str] = set()
            if relevant:
                for a in dict.fromkeys(int(table.article[j]) for j in idx):
                    arts |= self.article_tokens(a)
            j = V.judge(text, checked.claims[n], float(support[n]), relevant, [table.texts[i] for i in idx],
                        [self.sentence_tokens(i) for i in idx] if relevant else [], arts,
                        lambda pos, idx=idx: self.evidence_claims([idx[pos]])[int(idx[pos])])
            if not relevant:  # nothing relevant: the best (irrelevant) sentence is shown, no support
                out.append(SentenceCheck(None, j.status, j.claims,
                                         [(0, int(idx[0]), float(sims[0]))] if len(idx) else []))
                continue
            # the nearest relevant sentences, and the ones a conflicting claim or a negation comes from
            shown = {i for i, s in enumerate(sims) if s >= cut and i < N_SHOWN}
            shown |= {v.at for v in j.claims if v.at is not None}
            shown |= {j.negation_at} if j.negation_at is not None else set()
            out.append(SentenceCheck(float(support[n]), j.status, j.claims,
                                     [(i, int(idx[i]), float(sims[i])) for i in sorted(shown)], j.negation_at))
        return out


# ---------------------------------------------------------------- records
# Function words of other languages written in Latin script, none of them an English word: a short
# text (too short for the writing model's common-word rule) with more of these, and of words with
# accented letters, than common English words is taken for another language.
_FOREIGN = frozenset("""el los las del por para una unos unas está son pero como más muy también
le les des du une est sont dans pour pas qui avec sur cette mais être
der das und ist nicht ein eine mit von zu dem auf für sich auch wird sind nach oder
il lo gli della che non sono anche questo
os dos não são uma com pelo pela
het een niet zijn ook voor maar""".split())
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def short_language_reason(text: str) -> str | None:
    """None for a short text that reads as English, else why not (see _FOREIGN)."""
    from fabscore.text.language import STOPWORDS

    words = [w.lower() for w in _WORD.findall(text)]
    english = sum(w in STOPWORDS for w in words)
    foreign = sum(w in _FOREIGN or not w.isascii() for w in words)
    if foreign >= 2 and foreign > english:
        return (f"not English: {foreign} of {len(words)} words are another language's common words or have "
                f"accented letters, {english} are common English words")
    return None


def not_checked(record: dict, article: Article) -> str | None:
    """Why this text's sentences are not checked, or None: a text the writing model took for another
    language, or a short one that reads as another language (short_language_reason), or no sentence."""
    reason = record.get("reason") or ""
    if record.get("label") == "abstain" and reason and not reason.startswith("too short"):
        return f"not checked: {reason}"
    if not article.sentences:
        return "not checked: no sentence to check"
    if record.get("label") == "abstain":
        short = short_language_reason(article.norm)
        if short:
            return f"not checked: {short}"
    return None


def blank(record: dict) -> dict:
    """The evidence fields, empty: no evidence was given."""
    for s in record.get("sentences") or []:
        s.update(support=None, status=None, claims=[], evidence=[])
    record["evidence_summary"] = None
    return record


def summary(sentences: list[dict], reason: str | None = None) -> dict:
    """The article's evidence_summary from its checked sentences."""
    supports = [s["support"] for s in sentences if s.get("support") is not None]
    marked = [{"sentence": n, **{k: c[k] for k in ("start", "end", "text", "kind", "verdict", "evidence_value")}}
              for n, s in enumerate(sentences) for c in s.get("claims") or [] if c.get("verdict") in V.MARKED]
    counts = {f"n_{k}": sum(s.get("status") == k for s in sentences) for k in V.STATUSES}
    return {"n_sentences_checked": sum(s.get("status") in V.STATUSES for s in sentences), **counts,
            "min_support": min(supports) if supports else None,
            "n_absent": sum(c["verdict"] == "absent" for c in marked),
            "n_conflicting": sum(c["verdict"] == "conflicting" for c in marked),
            "invented_specifics": marked, "reason": reason}


def fill(rec: dict, sentence_start: int, checked: SentenceCheck, index: EvidenceIndex) -> dict:
    """A record sentence's evidence fields from its check (claim offsets into the text, like the
    sentence's; a conflicting claim's `evidence_index` is where its evidence_value is, in `evidence`)."""
    ranks = [rank for rank, _, _ in checked.evidence]
    rec["support"] = None if checked.support is None else round(float(checked.support), 6)
    rec["status"] = checked.status
    rec["evidence"] = [{**index.sentences[j].as_dict(), "similarity": round(float(sim), 4)}
                       for _, j, sim in checked.evidence]
    rec["claims"] = [{"start": sentence_start + v.claim.start, "end": sentence_start + v.claim.end,
                      "text": v.claim.text, "kind": v.claim.kind, "verdict": v.verdict,
                      "evidence_value": v.evidence_value,
                      "evidence_index": ranks.index(v.at) if v.at in ranks else None} for v in checked.claims]
    return rec


def annotate(record: dict, article: Article | None, check: EvidenceCheck | None) -> dict:
    """Add the evidence fields to a record (ArticleScore.as_dict) of `article`, in place. Every sentence
    of the article is checked; one the writing score did not list (an abstaining record lists none)
    is added with score null, flagged false. With no check, the fields are null/empty."""
    if check is None or article is None:
        return blank(record)
    blank(record)
    reason = not_checked(record, article)
    if reason:
        record["evidence_summary"] = summary([], reason)
        return record
    by_span = {(r["start"], r["end"]): r for r in record.get("sentences") or []}
    sentences = [by_span.get((s.start, s.end)) or {"start": s.start, "end": s.end, "text": s.text, "score": None,
                                                   "flagged": False} for s in article.sentences]
    results = check.check([s.text for s in article.sentences], [s.norm for s in article.sentences])
    for rec, sent, res in zip(sentences, article.sentences, results):
        fill(rec, sent.start, res, check.index)
    spans = {(s.start, s.end) for s in article.sentences}  # a scored sentence the article does not have: kept as is
    record["sentences"] = sorted(sentences + [r for k, r in by_span.items() if k not in spans],
                                 key=lambda r: (r["start"], r["end"]))
    record["evidence_summary"] = summary(sentences)
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
