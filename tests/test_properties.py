"""Property tests: normalization and sentence splitting never raise on any
Unicode, and sentence offsets always index the text the user gave us."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.normalize import normalize
from inference.reading import markdown_to_text, strip_tags
from inference.text import prepare

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
