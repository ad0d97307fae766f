"""On-disk cache of feature blocks, so re-training with other settings takes seconds.

One .npz per (feature kind, text): the key hashes the kind, the featurizer and
normalization versions, the backbone's weight hash and the sentence texts.
Files are written atomically and read with allow_pickle=False.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from fabscore.engines.pool import WorkerPool
from fabscore.features import FROM_TOKEN_STATS, LM_KINDS, lm
from fabscore.features.featurize import FEATURIZER_VERSIONS, featurize_kinds
from fabscore.models import backbones
from fabscore.text.normalize import NORMALIZATION_VERSION
from fabscore.text.sentences import SPLIT_VERSION, Article, from_spans, head, segment, segment_head


def _backbone_hash(kind: str, encoder: str | None = None) -> str:
    if kind == "embed" and encoder:
        return backbones.sha256_file(encoder)
    if kind in ("embed", "sentence_embed"):
        return backbones.minilm_info().weights_sha256
    if kind in LM_KINDS:
        return backbones.smollm_info().weights_sha256 + f"|w{lm.WINDOW}c{lm.CONTEXT}"
    return "none"


def cache_key(kind: str, article: Article, encoder: str | None = None) -> str:
    h = hashlib.sha256(f"{kind}|{FEATURIZER_VERSIONS[kind]}|{NORMALIZATION_VERSION}|{_backbone_hash(kind, encoder)}|"
                       .encode())
    h.update("\x1f".join(s.norm for s in article.sentences).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


class FeatureCache:
    """encoder: a fine-tuned MiniLM's safetensors file that computes the 'embed' kind."""

    def __init__(self, root: str | os.PathLike | None = None, encoder: str | None = None):
        self.root = Path(root) if root else backbones.cache_root() / "features"
        self.encoder = encoder

    def key(self, kind: str, article: Article) -> str:
        return cache_key(kind, article, self.encoder)

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.npz"

    def has(self, kind: str, article: Article) -> bool:
        return self.path(kind, self.key(kind, article)).is_file()

    def get(self, kind: str, article: Article) -> dict[str, np.ndarray] | None:
        p = self.path(kind, self.key(kind, article))
        if not p.is_file():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            return None  # a torn or foreign file: recompute

    def put(self, kind: str, article: Article, blocks: dict[str, np.ndarray]) -> None:
        p = self.path(kind, self.key(kind, article))
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=p.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **blocks)
        os.replace(tmp, p)

    def prepare(self, text: str, max_words: int | None = None) -> Article:
        """fabscore.text.prepare (or, with max_words, head(prepare(text)) without splitting
        the whole text) with the sentence spans cached: pysbd is slow, and training
        re-reads the same texts."""
        mode = f"head{max_words}" if max_words else "full"
        key = hashlib.sha256(f"split|{SPLIT_VERSION}|{mode}|".encode()
                             + text.encode("utf-8", "surrogatepass")).hexdigest()
        p = self.root / "splits" / key[:2] / f"{key}.npz"
        if p.is_file():
            try:
                with np.load(p, allow_pickle=False) as z:
                    art = from_spans(text, int(z["cut"][0]), [tuple(map(int, r)) for r in z["spans"]])
                    return head(art, max_words) if max_words else art
            except (OSError, ValueError, KeyError):
                pass
        cut, spans = segment_head(text, max_words) if max_words else segment(text)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=p.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, cut=np.array([cut]), spans=np.array(spans, dtype=np.int64).reshape(-1, 2))
        os.replace(tmp, p)
        art = from_spans(text, cut, spans)
        return head(art, max_words) if max_words else art

    def todo(self, article: Article, kinds: tuple[str, ...]) -> tuple[str, ...]:
        """The kinds to compute so that `kinds` are all cached: those missing, and `lm` too when a
        kind made from lm's token statistics is computed and they are not cached (keeping them lets
        other aggregates be made, and studied, without a new pass)."""
        todo = [k for k in kinds if not self.has(k, article)]
        if any(k in FROM_TOKEN_STATS for k in todo) and "lm" not in todo and not self.has("lm", article):
            todo.append("lm")
        return tuple(todo)

    def features(self, article: Article, kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
        """All blocks of `kinds` for one article, computing and storing what is missing."""
        have = {kind: self.get(kind, article) for kind in kinds}
        todo = [kind for kind, blocks in have.items() if blocks is None]
        lm_block = have.get("lm")
        if any(k in FROM_TOKEN_STATS for k in todo) and lm_block is None:
            lm_block = self.get("lm", article)
            if lm_block is None:
                todo.append("lm")
        new = featurize_kinds(article, tuple(todo), self.encoder, lm_block=lm_block) if todo else {}
        for kind, blocks in new.items():
            self.put(kind, article, blocks)
        out: dict[str, np.ndarray] = {}
        for kind in kinds:
            out.update(have[kind] if have[kind] is not None else new[kind])
        return out


def _fill_one(args: tuple[str, str | None, Article, tuple[str, ...]]) -> int:
    root, encoder, article, kinds = args
    FeatureCache(root, encoder).features(article, kinds)
    return 1


def fill(articles: Iterable[Article], kinds: tuple[str, ...], cache: FeatureCache, workers: int = 1,
         desc: str | None = None, engine: str = "local", address: str | None = None) -> None:
    """Featurize everything not yet cached; with workers > 1, in the scoring engine's
    WorkerPool, one thread per process (on 2 cores two single-threaded processes
    out-run one two-threaded one; see fabscore.engines).
    engine "ray": on Ray actors (fit.ray_featurize; a local instance, or the cluster at
    `address`), `workers` actors (0: all the cluster's CPUs but one); Ray starts only when
    something is missing from the cache.
    desc: show progress on stderr under this name (see fabscore.io.progress)."""
    from fabscore.io.progress import progress_bar

    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be local or ray, got {engine!r}")
    if address and engine != "ray":
        raise ValueError("--address needs --engine ray")
    todo = [a for a in articles if cache.todo(a, kinds)]
    with progress_bar(desc, len(todo) if desc else 0) as advance:
        if engine == "ray" and todo:
            from fabscore.training.fit.ray_featurize import fill_on_ray

            fill_on_ray(todo, kinds, cache, workers, address, advance)
            return
        if workers <= 1:
            for a in todo:
                cache.features(a, kinds)
                advance(1)
            return
        with WorkerPool(_fill_one, min(workers, len(todo)) or 1, threads=1) as pool:
            for (_, _, article, _), n in pool.imap_unordered((str(cache.root), cache.encoder, a, kinds) for a in todo):
                if isinstance(n, BaseException):
                    raise RuntimeError(f"featurizing failed on an article starting {article.norm[:60]!r}: "
                                       f"{type(n).__name__}: {n}") from n
                advance(n)
