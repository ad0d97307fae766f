"""The passages of human-labelled pairs: each claim's source cut as scoring cuts evidence.

Each pair's source is split into sentences as an evidence index splits a reference article;
a source longer than TOP_K sentences is cut to the TOP_K sentences nearest the claim (MiniLM
cosine), best first: the same passage scoring reads against a claim's retrieved evidence, so a
long source is read as the chunk that matters (MiniCheck's chunk-and-max, with retrieval
choosing the chunk). `overlap` gives the pairs today's word- and claim-overlap features
(features.pair_features) over the same passages.
"""
from __future__ import annotations

import numpy as np

from fabscore.evidence.features import TOP_K
from fabscore.training.evidence.human_pairs import HumanPair

POOL = 2500  # pairs per set whose passages training builds (and caches): the default draw


def choose_passages(pairs: list[HumanPair], k: int = TOP_K,
                    log=lambda m: None) -> tuple[list[list[str]], list[np.ndarray]]:
    """Each pair's passage sentences (best first) and their cosines with the claim."""
    from fabscore.evidence.index import encode
    from fabscore.text.normalize import normalize
    from fabscore.text.sentences import prepare

    sources = sorted({p.evidence for p in pairs})
    split = {s: [x.text for x in prepare(s).sentences] or [s] for s in sources}
    uniq = sorted({x for v in split.values() for x in v})
    log(f"passages: {len(sources)} sources, {len(uniq)} source sentences to embed")
    vec = dict(zip(uniq, encode([normalize(x) for x in uniq])))
    claims = sorted({p.claim for p in pairs})
    cvec = dict(zip(claims, encode([normalize(c) for c in claims])))
    out_s, out_c = [], []
    for p in pairs:
        sents = split[p.evidence]
        sims = np.array([float(cvec[p.claim] @ vec[x]) for x in sents])
        top = np.argsort(-sims, kind="stable")[:k]
        out_s.append([sents[i] for i in top])
        out_c.append(sims[top])
    return out_s, out_c


def passage(sentences: list[str]) -> str:
    """A claim's passage as one text: its sentences, best first."""
    return " ".join(s.strip() for s in sentences if s and s.strip())


def overlap(pairs: list[HumanPair], sentences: list[list[str]], sims: list[np.ndarray]) -> np.ndarray:
    """(n, len(features.FEATURES)) overlap features of each claim against its passage sentences."""
    from fabscore.evidence.claims import extract
    from fabscore.evidence.features import pair_features

    claims = extract([p.claim for p in pairs])
    return np.array([pair_features(p.claim, c, s, sim)[0] for p, c, s, sim in zip(pairs, claims, sentences, sims)])


def build(pairs: list[HumanPair], log=lambda m: None) -> tuple[list[str], np.ndarray]:
    """(passage text, overlap features) of each pair, from the disk cache (~/.cache/fabscore/
    evidence-passages, .npz without pickle) when it has these pairs: choosing the passages embeds
    every source sentence (~30,000 for all the sets), which takes minutes."""
    import hashlib
    import json

    from fabscore.evidence.features import FEATURES_VERSION
    from fabscore.models.backbones import cache_root, minilm_info
    from fabscore.text.sentences import SPLIT_VERSION

    h = hashlib.sha256(json.dumps([TOP_K, FEATURES_VERSION, SPLIT_VERSION, minilm_info().weights_sha256]).encode())
    for p in pairs:
        h.update(f"{p.claim}\x00{p.evidence}\n".encode())
    path = cache_root() / "evidence-passages" / f"{h.hexdigest()[:20]}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return z["passages"].tolist(), z["overlap"]
    sentences, sims = choose_passages(pairs, log=log)
    passages = [passage(s) for s in sentences]
    X = overlap(pairs, sentences, sims)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, passages=np.array(passages, dtype=str), overlap=X)
    tmp.replace(path)
    return passages, X
