"""The `lmdist` feature kind on the real packaged SmolLM2: one pass shared with `lm`, the same
numbers from a fresh pass and from an `lm` block read back from the feature cache."""
from __future__ import annotations

import numpy as np
from conftest import SEED_HUMAN


def test_lmdist_from_the_cache_equals_a_fresh_pass_and_lm_shares_its_pass(tmp_path, monkeypatch):
    from fabscore.features import lm
    from fabscore.features.featurize import feature_names, featurize, stack
    from fabscore.text.sentences import head, prepare
    from fabscore.training.fit.feature_cache import FeatureCache

    article = head(prepare(SEED_HUMAN.read_text()), 120)
    passes = []
    real = lm.token_statistics
    monkeypatch.setattr(lm, "token_statistics", lambda *a, **k: passes.append(1) or real(*a, **k))

    fresh = featurize(article, ("lmdist", "style"))
    assert len(passes) == 1
    both = featurize(article, ("lmdist", "lm"))  # lm is computed first, and lmdist reuses its pass
    assert len(passes) == 2
    assert np.array_equal(both["lmdist"], fresh["lmdist"]) and np.array_equal(both["sent_lmdist"], fresh["sent_lmdist"])

    cache = FeatureCache(tmp_path)
    cache.features(article, ("lm",))
    assert len(passes) == 3
    derived = cache.features(article, ("lmdist",))  # from the cached lm block's token statistics: no pass
    assert len(passes) == 3
    assert np.array_equal(derived["lmdist"], fresh["lmdist"])
    assert np.array_equal(derived["sent_lmdist"], fresh["sent_lmdist"])

    other = FeatureCache(tmp_path / "other")  # lmdist alone: one pass, and lm's token statistics kept too
    assert np.array_equal(other.features(article, ("lmdist",))["lmdist"], fresh["lmdist"]) and len(passes) == 4
    assert other.has("lm", article) and "lm_token_stats" in other.get("lm", article)

    x, xs = stack(fresh, ("lmdist", "style"))
    assert x.shape == (len(feature_names(("lmdist", "style"), "article")),) and np.isfinite(x).all()
    assert xs.shape == (len(article.sentences), len(feature_names(("lmdist", "style"), "sentence")))


def test_lmword_and_lex_share_the_pass_and_equal_from_the_cache(tmp_path, monkeypatch):
    """lmword is made from the same SmolLM2 pass as lmdist (one pass for both), and from a cached
    lm block it gives the same numbers; a human seed and its machine counterpart differ where the
    feature says they should (the machine text's function words are more predictable)."""
    from conftest import SEED_MACHINE

    from fabscore.features import lm, lmword
    from fabscore.features.featurize import feature_names, featurize, stack
    from fabscore.text.sentences import head, prepare
    from fabscore.training.fit.feature_cache import FeatureCache

    kinds = ("lmdist", "style", "lmword", "lex")
    article = head(prepare(SEED_HUMAN.read_text()), 120)
    passes = []
    real = lm.token_statistics
    monkeypatch.setattr(lm, "token_statistics", lambda *a, **k: passes.append(1) or real(*a, **k))
    fresh = featurize(article, kinds)
    assert len(passes) == 1
    cache = FeatureCache(tmp_path)
    cache.features(article, ("lm",))
    derived = cache.features(article, ("lmword", "lex"))
    assert len(passes) == 2  # the lm block's pass only
    for key in ("lmword", "sent_lmword", "lex", "sent_lex"):
        assert np.array_equal(derived[key], fresh[key]), key
    x, xs = stack(fresh, kinds)
    assert x.shape == (len(feature_names(kinds, "article")),) and np.isfinite(x).all()
    assert xs.shape == (len(article.sentences), len(feature_names(kinds, "sentence"))) and np.isfinite(xs).all()

    machine = featurize(head(prepare(SEED_MACHINE.read_text()), 120), ("lmword",))["lmword"]
    entropy = lmword.LMWORD_FEATURES.index("lmw_function_mean_entropy")
    assert machine[entropy] < fresh["lmword"][entropy]
