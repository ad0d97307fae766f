"""Pairs (claim sentence, evidence pool) made from human news in the shared data.

- corruptions of source sentences (corruptions.py), and a sentence inserted from another story
  (from a data set that is not in the pool);
- natural pairs: llmfake's machine rewrites against their human source (`pair_id`), sentences
  labelled inserted / restated by `sentence_labels.align`;
- a name of an original swapped for another name of the same article (`name_same`: the words all
  come from the source, only the subject is wrong);
- for training only (`abstractive`), the restated rewrite sentences corrupted the same ways
  (`abs_*`): a paraphrase that changes a name, number, date, speaker or negation, so the head does
  not learn that other wording means unsupported, nor that the source's wording means supported.
Stories are split by a hash of their id; the evidence pool of a split is every original
article of that split, not just a claim's own source.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabscore.evidence.claims import extract, key_tokens
from fabscore.evidence.features import TOP_K
from fabscore.evidence.index import build_from_texts, encode
from fabscore.text.sentences import prepare
from fabscore.training.data.sentence_labels import MATCH_MIN_COS, MATCH_MIN_OVERLAP, align
from fabscore.training.evidence.corruptions import SWAP_LABELS, corruptions, swap_within
from fabscore.training.paths import data_dir


@dataclass
class Pair:
    text: str  # the claim sentence
    label: int  # 1 = supported by the pool, 0 = not
    kind: str  # original / a corruption type / restated / inserted
    story: str
    span: tuple[int, int] | None = None  # the changed characters, for claim-level scores


def _hash(s: str, salt: str = "evidence") -> int:
    return int(hashlib.sha256(f"{salt}:{s}".encode()).hexdigest()[:12], 16)


def read(name: str, data: Path | None = None) -> list[dict]:
    """The rows of one shared data file (paths.data_dir: $FABSCORE_DATA or ../shared/data)."""
    return [json.loads(line) for line in (data_dir(data) / name).open()]


def is_test(story: str, test_share: float) -> bool:
    return _hash(story) % 1000 < 1000 * test_share


# ---------------------------------------------------------------- building a split
def _chosen_sentences(article, rng, per_article: int) -> list[str]:
    ok = [s.text for s in article.sentences if 8 <= len(s.text.split()) <= 60]
    rng.shuffle(ok)
    return ok[:per_article]


def build_split(humans: list[dict], machines: list[dict], outside: list[dict], rng, per_article: int,
                max_rewrites: int, log, abstractive: bool = False) -> tuple[object, list[Pair]]:
    """(evidence pool of all the split's originals, pairs). The same-article name swaps (and, with
    `abstractive`, the corrupted rewrites) come last, drawn from a random stream seeded from `rng`
    after everything else: the other pairs are the ones a split had before these kinds existed, so
    held-out figures stay comparable."""
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
    extra = np.random.default_rng(int(rng.integers(2**62)))
    article_claims = extract(texts)  # the names a same-article swap picks from
    for (i, s), cs in zip(flat, claims):
        got = swap_within(s, cs, article_claims[i], extra)
        if got:
            pairs.append(Pair(got[0], 0, "name_same", humans[i]["id"], got[1]))
    if abstractive:
        pairs += abstractive_corruptions([p for p in pairs if p.kind == "restated"], pool, extra)
    return pool, pairs


def abstractive_corruptions(restated: list[Pair], pool, rng) -> list[Pair]:
    """Each restated rewrite sentence corrupted as the originals are (an entity from another story,
    a number, a date, a speaker, a negation), and a name swapped for another of the same label
    from its retrieved evidence; kinds `abs_<type>`, label 0."""
    if not restated:
        return []
    claims = extract([p.text for p in restated])
    _, idx = pool.search(encode([p.text for p in restated]), TOP_K)
    evidence = [[pool.sentences[j].text for j in row] for row in idx]
    evidence_claims = extract([" ".join(ev) for ev in evidence])
    ent_pool: dict[str, list[str]] = {}
    for cs in claims:
        for c in cs:
            if c.label in SWAP_LABELS:
                ent_pool.setdefault(c.label, []).append(c.text)
    out = []
    for p, cs, ev, ecs in zip(restated, claims, evidence, evidence_claims):
        tokens = set(key_tokens(p.text + " " + " ".join(ev)))
        got = corruptions(p.text, cs, ent_pool, tokens, rng)
        swapped = swap_within(p.text, cs, ecs, rng)
        if swapped:
            got["name_same"] = swapped
        out += [Pair(text, 0, f"abs_{kind}", p.story, span) for kind, (text, span) in got.items()]
    return out


# ---------------------------------------------------------------- the data
@dataclass
class Sources:
    """The articles pairs are made from: human news with a story id, llmfake's machine
    rewrites (`pair_id` = their source), and human news from other data sets for insertions."""

    humans: list[dict]
    machines: list[dict]
    outside: list[dict]

    @classmethod
    def read(cls, data_dir: Path | None = None) -> Sources:
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
          rewrites: int = 250, n_outside: int = N_OUTSIDE, log=lambda m: None,
          abstractive: bool = False) -> tuple[object, list[Pair]]:
    """(evidence pool, pairs) of the training or held-out ("test") stories: at most n_stories
    drawn among the stories whose id hash puts them in that split, insertions from the first
    n_outside articles of that split of the outside data sets; `abstractive`: also the corrupted
    rewrites (build_split), which training uses and the held-out metrics do not."""
    rng = np.random.default_rng([seed, SPLIT_STREAMS[name]])
    want = name == "test"
    rows = [r for r in src.humans if is_test(r["id"], test_share) == want]
    rows = [rows[i] for i in sorted(rng.choice(len(rows), size=min(n_stories, len(rows)), replace=False))]
    out = outside_of(src, name, test_share, n_outside)
    return build_split(rows, src.machines, out, rng, per_article, rewrites, log, abstractive)
