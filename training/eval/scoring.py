"""Scoring labelled examples as `fabscore score` would, with features through the training cache."""
from __future__ import annotations

from pathlib import Path

from fabscore.detector import Detector
from fabscore.models import directory as md
from fabscore.text.sentences import chunks
from fabscore.training.data.examples import Example
from fabscore.training.data.generators import generator_family
from fabscore.training.fit.feature_cache import FeatureCache, fill


def cut_text(text: str, max_words: int | None, cache: FeatureCache) -> str:
    """The text up to the end of its sentence that completes max_words words."""
    if not max_words:
        return text
    art = cache.prepare(text, max_words)
    return text[: art.sentences[-1].end] if art.sentences else text


def group_keys(ex: Example, dataset: str, generator_map: dict | None = None) -> dict[str, str]:
    """The keys results are grouped by; 'source' is the row's own source column when it
    has one (an outlet, a corpus), else the data set's name."""
    return {"source": ex.source or dataset,
            "dataset": dataset, "subset": ex.subset or dataset,
            "generator": generator_family(ex.generator, generator_map) if ex.label else "human",
            "method": ex.method or ("human" if ex.label == 0 else "unknown")}


def detector_for(model: str | Path | md.ModelDir | None, cache: FeatureCache) -> Detector:
    """The model's Detector with features read from (and added to) `cache`, keyed by the
    model's own encoder when it was fine-tuned, and texts prepared through the cache."""
    model = model if isinstance(model, md.ModelDir) else md.load(model)
    if model.encoder and cache.encoder != model.encoder:
        cache = FeatureCache(cache.root, encoder=model.encoder)
    return Detector(model, featurizer=cache.features, preparer=cache.prepare)


def score_examples(detector: Detector, examples: list[Example], cache: FeatureCache, max_words: int | None,
                   workers: int) -> list[dict]:
    """Result dicts, as `fabscore score` gives them; features are computed first for all
    chunks at once (in `workers` processes) and read back from `cache`."""
    texts = [cut_text(e.text, max_words, cache) for e in examples]
    pieces = [c for t in texts for c in chunks(cache.prepare(t), detector.chunk_words)]
    fill(pieces, detector.kinds, cache, workers=workers, desc="featurizing")
    return [detector.score_one(t).as_dict() for t in texts]
