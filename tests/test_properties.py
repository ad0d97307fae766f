"""Property tests: normalization and sentence splitting never raise on any
Unicode, sentence offsets always index the text the user gave us, and MiniLM's
windows cover every token once in the fewest, equal pieces."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabscore.features import embed
from fabscore.normalize import normalize
from fabscore.reading import markdown_to_text, strip_tags
from fabscore.text import prepare

# Arbitrary Unicode, plus text built from pieces that stress the splitter:
# newlines, terminal punctuation, quotes, RTL marks, combining marks, CJK.
PIECES = st.sampled_from(["\n", "\n\n", ". ", "? ", "!", "\u201c", "\u201d", "Mr. ", "e.g. ", "3.5", "\u200f",
                          "\u202e", "\u0301", "\ufeff", "\u00ad", "\u3002", "\u05d0\u05d1", "\u0627\u0644",
                          "\ud55c", "\t", "\r\n", "...", "\u2026", " "])
WORDS = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
TEXTS = st.one_of(st.text(max_size=400), st.lists(st.one_of(PIECES, WORDS), max_size=60).map("".join))
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(TEXTS)
def test_normalize_never_raises_and_is_idempotent(text):
    out = normalize(text)
    assert isinstance(out, str)
    assert out == out.strip()
    assert normalize(out) == out


@FAST
@given(TEXTS)
def test_sentences_map_back_in_order_without_overlap(text):
    article = prepare(text)
    previous_end = 0
    for s in article.sentences:
        assert 0 <= s.start < s.end <= len(text)
        assert text[s.start:s.end] == s.text
        assert s.start >= previous_end
        assert s.norm == normalize(s.text) and s.norm
        previous_end = s.end
    assert article.n_words == sum(len(s.norm.split()) for s in article.sentences)


@FAST
@given(TEXTS)
def test_markup_strippers_never_raise(text):
    assert isinstance(markdown_to_text(text), str)
    assert isinstance(strip_tags("<p>" + text + "</p>"), str)


@FAST
@given(st.integers(min_value=0, max_value=3000), st.none() | st.lists(st.integers(1, 60), min_size=1, max_size=200))
def test_minilm_windows_cover_the_tokens_and_cut_between_sentences(n, sentence_lengths):
    ids = list(range(n))
    starts = None
    if sentence_lengths is not None:  # sentence starts: the lengths, repeated until the tokens run out
        starts = [int(t) for t in np.cumsum(sentence_lengths * (n // len(sentence_lengths) + 1)) if t < n]
    parts = embed.windows(ids, starts)
    step = embed.WINDOW - 2  # room left for [CLS] and [SEP]
    fewest = max(1, -(-n // step))
    assert [i for w in parts for i in w] == ids  # every token once, in order
    assert all(len(w) <= step for w in parts)
    if starts is None:  # equal windows, no more than needed
        assert len(parts) == fewest
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    else:  # sentences of at most 60 tokens: every cut falls between two sentences
        cuts = np.cumsum([len(w) for w in parts])[:-1]
        assert set(cuts) <= set(starts)
        packed, pos = 1, 0  # windows when each takes as many whole sentences as fit: the fewest possible
        while n - pos > step:
            pos = max(t for t in starts if t <= pos + step)
            packed += 1
        assert len(parts) <= packed + 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-30, 0), st.floats(0, 10), st.integers(1, 49152), st.floats(-20, 0),
                          st.floats(0, 50), st.floats(-20, 0)), min_size=1, max_size=40))
def test_lm_aggregates_are_finite_for_any_token_count(tokens):
    """Sentence features pool as few as one token: every aggregate (quantiles, trimmed
    means, top-k shares) must stay finite, or the sentence head sees NaN."""
    from fabscore.features import lm

    cols = list(zip(*tokens))
    stats = {k: np.array(cols[i], dtype=np.float64) for i, k in enumerate(lm.TOKEN_STATS)}
    out = lm.aggregate(stats)
    assert out.shape == (len(lm.LM_FEATURES),) and np.isfinite(out).all()
    names = dict(zip(lm.LM_FEATURES, out))
    assert names["lm_q25_logp"] <= names["lm_q50_logp"] <= names["lm_q75_logp"]
    assert 0.0 <= names["lm_top1"] <= names["lm_top3"] <= names["lm_top10"] <= 1.0
