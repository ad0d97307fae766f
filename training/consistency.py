"""Training and measuring evidence mode's consistency head on real news.

Pairs (claim sentence, evidence pool) are made from human news in ../shared/data:
- FactCC-style corruptions of source sentences (Kryscinski et al., 2020): an entity
  swapped for another of the same type from another article, a number or a date
  changed, the speaker of a quotation swapped, a negation added or removed, and a
  sentence inserted from another story (from a data set that is not in the pool);
- natural pairs: llmfake's machine rewrites against their human source (`pair_id`),
  sentences labelled inserted / restated by `sentence_labels.align`.
Stories are split by a hash of their id; the evidence pool at evaluation is every
held-out original article, not just a claim's own source. The head (logistic
regression over `fabscore.evidence.features`, Platt-calibrated) is fitted on the
training stories only, and written into a model directory next to the writing heads.

    python -m fabscore.training.consistency --out inference/models/default \
        --metrics benchmarks/evidence_consistency.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabscore.evidence.annotate import check_sentences, claim_supported
from fabscore.evidence.checker import Checker
from fabscore.evidence.claims import extract, key_tokens
from fabscore.evidence.features import FEATURES, TOP_K, negated
from fabscore.evidence.index import build_from_texts, encode
from fabscore.model_dir import resolve, write_manifest
from fabscore.text import prepare

from .fit import fit_head
from .metrics import auroc
from .sentence_labels import MATCH_MIN_COS, MATCH_MIN_OVERLAP, align

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TYPES = ("entity", "number", "date", "speaker", "negation", "insert")
SWAP_LABELS = ("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT")
_MONTHS = "january february march april may june july august september october november december".split()
_WORD_NUMBERS = "two three four five six seven eight nine ten dozen hundred thousand million billion".split()
_AUX = re.compile(r"\b(is|are|was|were|has|have|had|will|would|can|could|should|does|do|did|must)\b")
_NOT = re.compile(r"\s+not\b|n't\b")


@dataclass
class Pair:
    text: str  # the claim sentence
    label: int  # 1 = supported by the pool, 0 = not
    kind: str  # original / a corruption type / restated / inserted
    story: str
    span: tuple[int, int] | None = None  # the changed characters, for claim-level scores


def _hash(s: str, salt: str = "evidence") -> int:
    return int(hashlib.sha256(f"{salt}:{s}".encode()).hexdigest()[:12], 16)


def read(name: str, data_dir: Path | None = None) -> list[dict]:
    return [json.loads(line) for line in ((data_dir or DATA) / name).open()]


def is_test(story: str, test_share: float) -> bool:
    return _hash(story) % 1000 < 1000 * test_share


# ---------------------------------------------------------------- corruptions
def _replace(text: str, start: int, end: int, new: str) -> tuple[str, tuple[int, int]]:
    return text[:start] + new + text[end:], (start, start + len(new))


def change_number(text: str, c, rng) -> tuple[str, tuple[int, int]] | None:
    """A number inside a claim changed to a plausible other value (years by 1-5)."""
    m = re.search(r"\d[\d,]*(?:\.\d+)?", c.text)
    if m:
        raw = m.group().replace(",", "")
        try:
            n = float(raw)
        except ValueError:
            return None
        if 1900 <= n <= 2100 and "." not in raw:
            new = str(int(n + rng.choice([-3, -2, -1, 1, 2, 4])))
        else:
            f = rng.choice([0.5, 0.7, 1.3, 2.0, 3.0, 10.0])
            v = n * f if n else rng.integers(2, 9)
            new = f"{v:.1f}" if "." in raw else f"{int(round(v)):,}" if "," in m.group() else str(int(round(v)))
            if new == m.group():
                new = str(int(n) + 7)
        return _replace(text, c.start + m.start(), c.start + m.end(), new)
    words = c.text.lower().split()
    for w in words:
        if w in _MONTHS:
            i = c.text.lower().index(w)
            other = _MONTHS[(_MONTHS.index(w) + rng.integers(1, 12)) % 12].capitalize()
            return _replace(text, c.start + i, c.start + i + len(w), other)
        if w in _WORD_NUMBERS:
            i = c.text.lower().index(w)
            other = rng.choice([x for x in _WORD_NUMBERS if x != w])
            return _replace(text, c.start + i, c.start + i + len(w), other)
    return None


def negate(text: str) -> tuple[str, tuple[int, int]] | None:
    """Remove a negation, or add 'not' after the first auxiliary verb."""
    if negated(text):
        m = _NOT.search(text)
        return None if m is None else _replace(text, m.start(), m.end(), "")
    m = _AUX.search(text)
    return None if m is None else _replace(text, m.end(), m.end(), " not")


def swap_entity(text: str, c, pool: dict[str, list[str]], article_tokens: set[str], rng):
    others = [e for e in pool.get(c.label, []) if not set(key_tokens(e)) & article_tokens]
    if not others:
        return None
    return _replace(text, c.start, c.end, others[rng.integers(len(others))])


def corruptions(text: str, claims: list, pool: dict[str, list[str]], article_tokens: set[str], rng) -> dict:
    """{type: (corrupted text, changed span)} for every type this sentence allows."""
    out = {}
    ents = [c for c in claims if c.label in SWAP_LABELS]
    people = [c for c in claims if c.label == "PERSON"]
    has_quote = any(c.kind == "quote" for c in claims)
    if has_quote and people:
        got = swap_entity(text, people[rng.integers(len(people))], pool, article_tokens, rng)
        if got:
            out["speaker"] = got
    if ents:
        got = swap_entity(text, ents[rng.integers(len(ents))], pool, article_tokens, rng)
        if got:
            out["entity"] = got
    for kind in ("number", "date"):
        cs = [c for c in claims if c.kind == kind]
        if cs:
            got = change_number(text, cs[rng.integers(len(cs))], rng)
            if got:
                out[kind] = got
    got = negate(text)
    if got:
        out["negation"] = got
    return out


# ---------------------------------------------------------------- building a split
def _chosen_sentences(article, rng, per_article: int) -> list[str]:
    ok = [s.text for s in article.sentences if 8 <= len(s.text.split()) <= 60]
    rng.shuffle(ok)
    return ok[:per_article]


def build_split(humans: list[dict], machines: list[dict], outside: list[dict], rng, per_article: int,
                max_rewrites: int, log) -> tuple[object, list[Pair], dict]:
    """(evidence pool of all the split's originals, pairs, relevance statistics)."""
    texts = [r["text"] for r in humans]
    t = time.monotonic()
    pool = build_from_texts(texts, [r["id"] for r in humans])
    log(f"  pool: {len(humans)} articles, {len(pool)} sentences ({time.monotonic() - t:.0f} s)")
    articles = [prepare(x) for x in texts]
    chosen = [_chosen_sentences(a, rng, per_article) for a in articles]
    flat = [(i, s) for i, ss in enumerate(chosen) for s in ss]
    claims = extract([s for _, s in flat])
    ent_pool: dict[str, list[str]] = {}
    for cs in claims:
        for c in cs:
            if c.label in SWAP_LABELS:
                ent_pool.setdefault(c.label, []).append(c.text)
    tokens = [set(key_tokens(x)) for x in texts]
    pairs = []
    for (i, s), cs in zip(flat, claims):
        story = humans[i]["id"]
        pairs.append(Pair(s, 1, "original", story))
        for kind, (new, span) in corruptions(s, cs, ent_pool, tokens[i], rng).items():
            pairs.append(Pair(new, 0, kind, story, span))
    # inserted sentences: from stories outside the pool, nearest in meaning to a chosen sentence
    out_sents = [s.text for r in outside for s in prepare(r["text"]).sentences if 8 <= len(s.text.split()) <= 60]
    out_vec = encode(out_sents)
    originals = [p for p in pairs if p.kind == "original"]
    pick = rng.choice(len(originals), size=min(len(originals), len(originals) // 2 + 1), replace=False)
    q = encode([originals[j].text for j in pick])
    nearest = (q @ out_vec.T).argmax(axis=1)
    pairs += [Pair(out_sents[n], 0, "insert", originals[j].story) for j, n in zip(pick, nearest)]
    # natural pairs: machine rewrites against their source
    by_id = {r["id"]: n for n, r in enumerate(humans)}
    starts = np.cumsum([0] + [len(a.sentences) for a in articles])
    rewrites = [m for m in machines if m.get("pair_id") in by_id]
    rng.shuffle(rewrites)
    for m in rewrites[:max_rewrites]:
        src = by_id[m["pair_id"]]
        sents = [s.text for s in prepare(m["text"]).sentences if len(s.text.split()) >= 6][:per_article * 3]
        if not sents:
            continue
        labels, overlap, cos = align(sents, encode(sents).astype(np.float64), texts[src],
                                     pool.vectors[starts[src]:starts[src + 1]].astype(np.float64))
        for s, lab, ov, c in zip(sents, labels, overlap, cos):
            if lab == 1:
                pairs.append(Pair(s, 0, "inserted", m["pair_id"]))
            elif ov >= MATCH_MIN_OVERLAP or c >= MATCH_MIN_COS:
                pairs.append(Pair(s, 1, "restated", m["pair_id"]))
    return pool, pairs, {}


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
    for t in np.unique(score)[::-1]:  # every distinct threshold, strictest first
        got = at(score >= t, float(t))
        if got["precision"] is None:
            continue
        f1 = 2 * got["precision"] * got["recall"] / (got["precision"] + got["recall"]) if got["recall"] else 0.0
        if best_f1 is None or f1 > best_f1["f1"]:
            best_f1 = {**got, "f1": f1}
        if got["precision"] >= min_precision and (at_precision is None or got["recall"] > at_precision["recall"]):
            at_precision = got
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


# ---------------------------------------------------------------- the data
@dataclass
class Sources:
    """The articles pairs are made from: human news with a story id, llmfake's machine
    rewrites (`pair_id` = their source), and human news from other data sets for insertions."""

    humans: list[dict]
    machines: list[dict]
    outside: list[dict]

    @classmethod
    def read(cls, data_dir: Path | None = None) -> "Sources":
        """From the shared data folder: llmfake human articles that have machine rewrites and
        usnews_mar2023, 120-1,500 words; outside: iu_news and aiclf_news human articles."""
        llm = read("llmfake.clean.jsonl", data_dir)
        has_rewrite = {r["pair_id"] for r in llm if r["label"] == "machine" and r.get("pair_id")}
        humans = [r for r in llm if r["label"] == "human" and r["id"] in has_rewrite]
        humans += [r for r in read("usnews_mar2023_human.clean.jsonl", data_dir) if r["label"] == "human"]
        humans = [r for r in humans if 120 <= len(r["text"].split()) <= 1500]
        outside = [r for name in ("iu_news.clean.jsonl", "aiclf_news.clean.jsonl") for r in read(name, data_dir)
                   if r["label"] == "human" and 120 <= len(r["text"].split()) <= 1500]
        return cls(humans, [r for r in llm if r["label"] == "machine"], outside)


N_OUTSIDE = 25  # articles of the outside data sets that a split's inserted sentences come from
SPLIT_STREAMS = {"train": 0, "test": 1}  # each split draws from its own random stream, so the held-out
# pairs are the same whether training or `fabscore evaluate --evidence` builds them


def outside_of(src: Sources, name: str, test_share: float, n: int = N_OUTSIDE) -> list[dict]:
    """The first n articles of the outside data sets in split `name`: where its inserted sentences come from."""
    return [r for r in src.outside if is_test(r["id"], test_share) == (name == "test")][:n]


def split(name: str, src: Sources, n_stories: int, test_share: float = 0.3, seed: int = 0, per_article: int = 3,
          rewrites: int = 250, n_outside: int = N_OUTSIDE, log=lambda m: None) -> tuple[object, list[Pair]]:
    """(evidence pool, pairs) of the training or held-out ("test") stories: at most n_stories
    drawn among the stories whose id hash puts them in that split, insertions from the first
    n_outside articles of that split of the outside data sets."""
    rng = np.random.default_rng([seed, SPLIT_STREAMS[name]])
    want = name == "test"
    rows = [r for r in src.humans if is_test(r["id"], test_share) == want]
    rows = [rows[i] for i in sorted(rng.choice(len(rows), size=min(n_stories, len(rows)), replace=False))]
    out = outside_of(src, name, test_share, n_outside)
    pool, pairs, _ = build_split(rows, src.machines, out, rng, per_article, rewrites, log)
    return pool, pairs


# ---------------------------------------------------------------- relevance cut
RELEVANCE_QUANTILE = 0.95  # share of unrelated sentences that must come out `no_evidence`


def relevance_curve(probes: np.ndarray, pool: np.ndarray, pool_article: np.ndarray, probe_article: np.ndarray,
                    rng, quantile: float = RELEVANCE_QUANTILE, min_size: int = 16, draws: int = 5):
    """The relevance cut as a function of pool size, measured: unrelated claim sentences
    (`probes`) searched in pools of whole articles drawn at random from `pool`, sizes from
    min_size sentences to all of them (doubling), `draws` pools per size; at each size the
    `quantile` of the probes' best cosine. A probe's own article is never in its pool.
    Returns (RelevanceCut fitted by least squares in ln(size), the measured table)."""
    from fabscore.evidence.checker import RelevanceCut

    sims = probes.astype(np.float32) @ pool.astype(np.float32).T
    sims[probe_article[:, None] == pool_article[None, :]] = -np.inf
    articles, per_article = np.unique(pool_article, return_counts=True)
    sizes, table = [], []
    size = min_size
    while True:
        size = min(size, len(pool))
        got = []
        for _ in range(draws if size < len(pool) else 1):
            order = rng.permutation(len(articles))
            take = articles[order[: int(np.searchsorted(np.cumsum(per_article[order]), size)) + 1]]
            cols = np.isin(pool_article, take)
            best = sims[:, cols].max(axis=1)
            best = best[np.isfinite(best)]
            got.append((int(cols.sum()), float(np.quantile(best, quantile))))
        n, cut = float(np.mean([g[0] for g in got])), float(np.mean([g[1] for g in got]))
        sizes.append(n)
        table.append({"pool_sentences": round(n), "cut": round(cut, 4), "spread": round(float(np.ptp([g[1] for g in got])), 4)})
        if size >= len(pool):
            break
        size *= 2
    x = np.log(np.array(sizes))
    y = np.array([t["cut"] for t in table])
    slope, intercept = np.polyfit(x, y, 1) if len(x) > 1 else (0.0, float(y[0]))
    fit = RelevanceCut(round(float(intercept), 4), round(float(slope), 4), int(round(sizes[0])), int(round(sizes[-1])))
    for t in table:
        t["fitted"] = round(fit(t["pool_sentences"]), 4)
    return fit, table


def relevance_pool(src: "Sources", test_share: float, exclude_outside: set[str],
                   data_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """(texts, story ids) of the articles the relevance curve's pools are drawn from: every
    training-split human news article (llmfake's, with or without rewrites, and usnews_mar2023's,
    120-1,500 words), and the outside data sets' training-split articles that insertions do not
    come from. Held-out stories are never used."""
    held = {r["id"] for r in src.humans if is_test(r["id"], test_share)}
    rows = [r for r in read("llmfake.clean.jsonl", data_dir) if r["label"] == "human"]
    rows = [r for r in rows if 120 <= len(r["text"].split()) <= 1500]
    rows += [r for r in src.humans if not r["id"].startswith("llmfake")]
    rows = [r for r in {r["id"]: r for r in rows}.values() if r["id"] not in held and not is_test(r["id"], test_share)]
    rows += [r for r in src.outside if not is_test(r["id"], test_share) and r["id"] not in exclude_outside]
    return [r["text"] for r in rows], [r["id"] for r in rows]


def relevance_statistics(related_sims: np.ndarray, unrelated_sims: np.ndarray, cut: float) -> dict:
    """Best cosine of related sentences (restated rewrites of a pooled story) vs unrelated ones
    (claim sentences of other stories), and the share of the related ones below `cut`."""
    q = lambda a, p: float(np.quantile(a, p)) if len(a) else None  # noqa: E731
    return {"related_restated": {f"q{int(100 * p)}": q(related_sims, p) for p in (0.01, 0.05, 0.1, 0.5)},
            "unrelated": {f"q{int(100 * p)}": q(unrelated_sims, p) for p in (0.5, 0.9, 0.95, 0.99)},
            "n_related": int(len(related_sims)), "n_unrelated": int(len(unrelated_sims)), "cut": cut,
            "related_restated_below_cut": float((related_sims < cut).mean()) if len(related_sims) else None,
            "unrelated_above_cut": float((unrelated_sims >= cut).mean()) if len(unrelated_sims) else None}


def claim_support_cut(pairs: list[Pair], checked, support: np.ndarray) -> tuple[float, dict]:
    """The sentence support at or below which a claim found in the evidence, but not in its
    best sentence, is not vouched for: the threshold of best F1 on (out-of-fold) training pairs,
    with the claims of restated rewrites among the negatives (with the originals alone, which
    the pool holds verbatim, every cut looks precise and the highest would win)."""
    scores = claim_scores(pairs, checked, support, claim_cut=0.0, restated=True)
    t = (scores["best_f1"] or {}).get("threshold")
    cut = 0.0 if t is None or t >= 1.0 else round(1.0 - float(t), 4)
    return cut, scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fabscore.training.consistency", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="default", help="model directory to write the head into (default: shipped)")
    ap.add_argument("--metrics", default=None, help="write the held-out metrics here (JSON)")
    ap.add_argument("--n-train", type=int, default=260, help="training stories (human articles)")
    ap.add_argument("--n-test", type=int, default=160, help="held-out stories")
    ap.add_argument("--per-article", type=int, default=3, help="claim sentences per article")
    ap.add_argument("--rewrites", type=int, default=250, help="machine rewrites per split")
    ap.add_argument("--test-share", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    started = time.monotonic()

    src = Sources.read()
    splits = {}
    for name, n in (("train", args.n_train), ("test", args.n_test)):
        log(f"{name}: building pairs")
        pool, pairs = split(name, src, n, args.test_share, args.seed, args.per_article, args.rewrites, log=log)
        t = time.monotonic()
        checked = check_sentences([p.text for p in pairs], pool, TOP_K)
        log(f"  {len(pairs)} pairs featurized ({time.monotonic() - t:.0f} s)")
        splits[name] = (pool, pairs, checked)

    tr_pool, tr_pairs, tr_checked = splits["train"]
    te_pool, te_pairs, te_checked = splits["test"]
    y = np.array([p.label for p in tr_pairs])
    fit = fit_head(tr_checked.X, y, np.array([p.story for p in tr_pairs]), seed=args.seed, fprs=())
    claim_cut, train_claims = claim_support_cut(tr_pairs, tr_checked, fit.oof)
    log(f"claim cut: support <= {claim_cut} (best F1 on out-of-fold training pairs)")
    # the relevance cut by pool size, from training-split articles only; probes: the training claim sentences
    t = time.monotonic()
    used_outside = {r["id"] for r in outside_of(src, "train", args.test_share)}
    texts, ids = relevance_pool(src, args.test_share, used_outside)
    curve_pool = build_from_texts(texts, ids)
    originals = [p for p in tr_pairs if p.kind == "original"]
    relevance, curve = relevance_curve(encode([p.text for p in originals]), curve_pool.vectors,
                                       np.array([s.id for s in curve_pool.sentences]),
                                       np.array([p.story for p in originals]), np.random.default_rng([args.seed, 7]))
    log(f"relevance cut: {relevance} from pools of {curve[0]['pool_sentences']}-{curve[-1]['pool_sentences']} "
        f"sentences ({time.monotonic() - t:.0f} s)")

    support = fit.head.predict_proba(te_checked.X)[:, 1]
    metrics = evaluate(te_pairs, support, te_checked, claim_cut)
    metrics["train_cv_auroc"] = fit.cv_auroc
    metrics["C"] = fit.C
    metrics["claim_support_cut"] = {"cut": claim_cut, "rule": "best F1 on out-of-fold training pairs",
                                    "training": train_claims}
    # held out: restated rewrites (related) and the training claim sentences (unrelated) in the held-out pool
    kinds = np.array([p.kind for p in te_pairs])
    unrel_sims, _ = te_pool.search(encode([p.text for p in originals]), 1)
    metrics["relevance"] = {"rule": f"{RELEVANCE_QUANTILE:.0%} quantile of unrelated sentences' best cosine, "
                                    "a line in ln(pool sentences)", "fit": relevance.as_dict(), "curve": curve,
                            "held_out": relevance_statistics(te_checked.sims[kinds == "restated", 0], unrel_sims[:, 0],
                                                             relevance(len(te_pool)))}
    metrics["coef"] = dict(zip(FEATURES, map(float, fit.head.tensors()["coef"])))
    metrics["sizes"] = {k: {"pool_sentences": len(v[0]), "pairs": len(v[1]),
                            "by_kind": {t: int(sum(p.kind == t for p in v[1])) for t in set(p.kind for p in v[1])}}
                        for k, v in splits.items()}
    metrics["sizes"]["relevance_pool"] = {"articles": len(texts), "sentences": len(curve_pool)}
    metrics["seconds"] = round(time.monotonic() - started, 1)
    checker = Checker(fit.head, relevance, TOP_K, {
        "trained_on": "FactCC-style corruptions of llmfake/usnews human sentences and llmfake rewrites "
                      "(fabscore.training.consistency)",
        "held_out": {"natural_auroc": metrics["natural_auroc"],
                     "corruption_auroc": {k: v["auroc"] for k, v in metrics["corruption_auroc"].items()},
                     "claim_level": metrics["claim_level"]}}, claim_cut)
    path = resolve(args.out)
    checker.save(path)
    write_manifest(path)
    log(json.dumps(metrics, indent=2))
    if args.metrics:
        Path(args.metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
