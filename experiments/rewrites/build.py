"""Feature tables of the samples, one row per text (first 200 words), with what the experiments split on.

    .venv/bin/python experiments/rewrites/build.py SET...   (mix l2r l2rc pp glimpse lfrw; see common.py)

Blocks: `lmdist`, `style`, `lm` (aggregates), `lmword` and `lex` (the package's kinds), and the
experiment's `lmuni` and `lment` (extra_features.py). Everything comes from the feature cache
(FeatureCache.features: `lmword` and `lex` are made from the cached `lm` block, no new SmolLM2 pass);
a text whose `lm` block is not cached gets its pass here (featurize_sets.py fills the cache on two
processes beforehand). Writes experiments/rewrites/tables/tab_SET.npz and tab_SET.meta.json (not
committed: they are derived from the data).
"""
from __future__ import annotations

import json
import sys
import time

import extra_features as xf
import numpy as np
from common import SETS, TABLES, rows

from fabscore.features.lmword import token_word_classes
from fabscore.models import backbones
from fabscore.training.fit.feature_cache import FeatureCache

KINDS = ("lm", "lmdist", "style", "lmword", "lex")
BLOCKS = ("lmdist", "style", "lm", "lmword", "lex", "lmuni", "lment")


def build(name: str, cache: FeatureCache, tok, uni: np.ndarray) -> None:
    blocks: dict[str, list] = {k: [] for k in BLOCKS}
    meta = []
    passes = 0
    for e, a, ds, attack in rows(name, cache):
        passes += not cache.has("lm", a)
        f = cache.features(a, KINDS)
        enc = tok(a.norm, add_special_tokens=False, return_offsets_mapping=True)
        stats = f["lm_token_stats"]
        assert stats.shape[1] == len(enc["input_ids"]), "token statistics do not match the tokenized text"
        cls = token_word_classes(a.norm, enc["offset_mapping"])
        for k in ("lmdist", "style", "lm", "lmword", "lex"):
            blocks[k].append(f[k])
        blocks["lmuni"].append(xf.lmuni(stats, enc["input_ids"], cls, uni))
        blocks["lment"].append(xf.lment(stats, cls))
        meta.append({"id": e.id, "label": e.label, "group": f"{ds}/{e.group}", "dataset": ds,
                     "source": f"{ds}:{e.subset}" if e.subset else ds, "generator": e.generator or "human",
                     "method": e.method, "domain": e.meta.get("domain", ""), "attack": attack,
                     "pair_id": (e.meta.get("pair_id") or (e.group if e.label else "")),
                     "n_words": a.n_words, "n_tokens": int(stats.shape[1])})
    TABLES.mkdir(exist_ok=True)
    out = TABLES / f"tab_{name}.npz"
    np.savez(out, **{k: np.array(v) for k, v in blocks.items()})
    (TABLES / f"tab_{name}.meta.json").write_text(json.dumps(meta))
    print(f"{name}: {len(meta)} rows ({passes} SmolLM2 passes for texts not cached) -> {out}", flush=True)


def main(names: list[str]) -> None:
    bad = [n for n in names if n not in SETS]
    if not names or bad:
        sys.exit(f"usage: build.py SET... with SET in {' '.join(SETS)}" + (f" (not {' '.join(bad)})" if bad else ""))
    cache = FeatureCache()
    tok, model = backbones.load_smollm()
    uni = xf.unigram_prior(tok, model)
    for name in names:
        t0 = time.time()
        build(name, cache, tok, uni)
        print(f"  {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
