"""Property tests: normalization and sentence splitting never raise on any
Unicode, sentence offsets always index the text the user gave us, and MiniLM's
windows cover every token once in the fewest, equal pieces."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabscore.features import embed
from fabscore.io.reading import markdown_to_text, strip_tags
from fabscore.text.normalize import normalize
from fabscore.text.sentences import prepare

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


_TOKEN = st.tuples(st.floats(-30, 0), st.floats(0, 10), st.integers(1, 49152), st.floats(-20, 0),
                   st.floats(0, 50), st.floats(-20, 0))


@settings(max_examples=200, deadline=None)
@given(st.lists(_TOKEN, min_size=1, max_size=40))
def test_lmdist_histograms_are_shares_for_any_token_count(tokens):
    """The token-distribution features of as few as one token: each histogram's shares sum to 1,
    everything finite."""
    from fabscore.features import lm, lmdist

    cols = list(zip(*tokens))
    stats = {k: np.array(cols[i], dtype=np.float64) for i, k in enumerate(lm.TOKEN_STATS)}
    out = lmdist.aggregate(stats)
    assert out.shape == (len(lmdist.LMDIST_FEATURES),) and np.isfinite(out).all()
    bins = (len(lmdist.LOGP_EDGES) + 1, len(lmdist.RANK_EDGES) + 1, len(lmdist.Z_EDGES) + 1)
    start = 0
    for n in bins:
        assert np.isclose(out[start:start + n].sum(), 1.0) and (out[start:start + n] >= 0).all()
        start += n


@settings(max_examples=100, deadline=None)
@given(st.lists(_TOKEN, min_size=20, max_size=60), st.lists(_TOKEN, min_size=1, max_size=3), st.integers(0, 19))
def test_an_edit_moves_the_lmdist_histograms_by_its_share_of_tokens(tokens, edit, at):
    """Why lmdist resists typos: replacing k tokens of n moves each histogram by at most 2k/n in L1
    (a mean, by contrast, moves without bound with one extreme token)."""
    from fabscore.features import lm, lmdist

    def hist(toks):
        cols = list(zip(*toks))
        stats = {k: np.array(cols[i], dtype=np.float64) for i, k in enumerate(lm.TOKEN_STATS)}
        n_bins = len(lmdist.LOGP_EDGES) + 1 + len(lmdist.RANK_EDGES) + 1 + len(lmdist.Z_EDGES) + 1
        return lmdist.aggregate(stats)[:n_bins]

    edited = tokens[:at] + edit + tokens[at + len(edit):]
    k = max(len(edit), len(edited) - len(tokens) + len(edit))
    bound = 3 * (2 * k / min(len(tokens), len(edited)) + abs(len(edited) - len(tokens)) / len(tokens))
    assert np.abs(hist(tokens) - hist(edited)).sum() <= bound + 1e-9
