"""`fabscore train --engine ray`: featurizing on a Ray cluster, written to the driver's cache.

The same machinery as `fabscore score --engine ray` (fabscore.engines.ray_engine.RayRunner:
Ray Data `map_batches` over an actor pool, blocks of several inputs, retries and a
second pass for what a dead actor or a lost node left), with this module's actor:
each RayFeaturizer loads the backbones its feature kinds need once, then turns
articles into feature blocks. The blocks come back to the driver, which writes them
into its FeatureCache under the keys the local engine uses; so actors need no shared
file system, and a cache filled on Ray is the cache the local engine would have filled.

The fabscore package (inference/) never imports this module: the actor class is handed
to RayRunner.map as a callable.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable

import numpy as np

from fabscore.text.sentences import Article, Sentence

ERROR_KEY = "__error__"


def article_payload(article: Article, kinds: tuple[str, ...]) -> str:
    """An article and the kinds to compute for it, as JSON text (Arrow strings must be
    valid UTF-8; json escapes lone surrogates)."""
    return json.dumps([list(kinds), article.text, article.body_end,
                       [[s.start, s.end, s.text, s.norm] for s in article.sentences]])


def article_from_payload(payload: str) -> tuple[Article, tuple[str, ...]]:
    kinds, text, body_end, sents = json.loads(payload)
    return Article(text=text, body_end=body_end, sentences=tuple(Sentence(*s) for s in sents)), tuple(kinds)


def pack(blocks: dict[str, dict[str, np.ndarray]]) -> bytes:
    """{kind: {block name: array}} as one .npz (read back with allow_pickle=False)."""
    buf = io.BytesIO()
    np.savez(buf, **{f"{kind}.{name}": arr for kind, named in blocks.items() for name, arr in named.items()})
    return buf.getvalue()


def unpack(data: bytes) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        for key in z.files:
            kind, _, name = key.partition(".")
            out.setdefault(kind, {})[name] = z[key]
    return out


def _load_backbones(kinds: tuple[str, ...], encoder: str | None) -> None:
    import torch

    from fabscore.features import uses_lm
    from fabscore.models import backbones

    if uses_lm(kinds):
        backbones.load_smollm()
    if "embed" in kinds:
        backbones.load_minilm_weights(encoder) if encoder else backbones.load_minilm()
    if "sentence_embed" in kinds:
        backbones.load_minilm(torch.float32)


class RayFeaturizer:
    """A Ray Data actor: the backbones loaded once, then batches of articles -> packed blocks.
    An article whose featurizing raises comes back as its error message (the driver stops
    the run, as the local engine does)."""

    def __init__(self, threads: int, kinds: tuple[str, ...], encoder: str | None):
        from fabscore.engines.ray_engine import set_threads
        from fabscore.features.featurize import featurize_kinds

        set_threads(threads)
        if encoder:
            from pathlib import Path

            if not Path(encoder).is_file():
                raise FileNotFoundError(f"the fine-tuned encoder {encoder} is not on this node "
                                        "(--finetune on a cluster needs a file system shared with the driver)")
        self.encoder, self.featurize = encoder, featurize_kinds
        _load_backbones(tuple(kinds), encoder)

    def __call__(self, batch: dict) -> dict:
        outputs = []
        for payload in batch["input"]:
            article, kinds = article_from_payload(payload)
            try:
                outputs.append(pack(self.featurize(article, tuple(kinds), self.encoder)))
            except Exception as e:  # noqa: BLE001 - reported with its article on the driver
                outputs.append(pack({ERROR_KEY: {"message": np.array(f"{type(e).__name__}: {e}")}}))
        return {"key": batch["key"], "output": np.array(outputs, dtype=object)}


def fill_on_ray(todo: list[Article], kinds: tuple[str, ...], cache, workers: int, address: str | None,
                advance: Callable[[int], None]) -> None:
    """Featurize `todo` (articles missing some of `kinds` in `cache`) on Ray actors and put
    every block into `cache`. workers: actors (0: every CPU of the cluster but one, or
    every core for a local instance)."""
    from fabscore.engines import EngineError, available_cores
    from fabscore.engines.ray_engine import PASSES, RETRIES, RayRunner

    actors = workers if workers >= 1 else (None if address else available_cores())
    try:
        runner = RayRunner(actors, 1, address)
    except EngineError as e:
        raise ValueError(str(e)) from e  # `fabscore train` exits 2 with the message
    try:
        items = [(k, article_payload(a, cache.todo(a, kinds))) for k, a in enumerate(todo)]
        for key, data in runner.map(RayFeaturizer, (tuple(kinds), cache.encoder), items):
            article = todo[key]
            if data is None:
                raise RuntimeError(f"featurizing failed on an article starting {article.norm[:60]!r}: its Ray "
                                   f"actor died {PASSES * (RETRIES + 1)} times")
            blocks = unpack(data)
            if ERROR_KEY in blocks:
                raise RuntimeError(f"featurizing failed on an article starting {article.norm[:60]!r}: "
                                   f"{blocks[ERROR_KEY]['message']}")
            for kind, named in blocks.items():
                cache.put(kind, article, named)
            advance(1)
    finally:
        runner.close()
